"""Seed 003's job results by input name (inference/job_results.py), partial while the job runs."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from inference import job_results
from inference.api import get_job


class JobResultsView(GenericAPIView):
    pagination_class = None

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, job_id):
        """Every input by name: `results` (waiting, running or done) and `failures`."""
        return Response(job_results.job_document(get_job(request, job_id)))


class InputResultView(GenericAPIView):
    pagination_class = None

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, job_id, input_name):
        """One input by name (a file name, or `name (2)` for a job's second file of that name)."""
        found = job_results.one_input(get_job(request, job_id), input_name)
        if found is None:
            raise Http404("No input of that name in this job")
        return Response(found)
