"""API routes for inference jobs (Relay's paths, no trailing slash; one is tolerated)."""

from inference import api, classification_api, results_api
from relayweb.routes import UUID, route

J = rf"inference-jobs/(?P<job_id>{UUID})"
F = rf"{J}/files/(?P<file_id>{UUID})"

C = rf"classifications/(?P<identifier>{UUID})"
routes = [
    route("classifications", classification_api.ClassificationListView, "classification-list"),
    route(C, classification_api.ClassificationDetailView, "classification-detail"),
    route("inference-jobs", api.InferenceJobListView, "inference-job-list"),
    route(J, api.InferenceJobDetailView, "inference-job-detail"),
    route(rf"{J}/cancel", api.InferenceJobCancelView, "inference-job-cancel"),
    route(rf"{J}/export", api.InferenceExportView, "inference-export"),
    route(rf"{J}/results", results_api.JobResultsView, "inference-results"),
    route(rf"{J}/results/(?P<input_name>[^/]+)", results_api.InputResultView, "inference-input-result"),
    route(rf"{J}/files", api.FileListView, "inference-file-list"),
    route(rf"{J}/files/upload-url", api.FileUploadUrlView, "inference-upload-url"),
    route(rf"{J}/files/confirm", api.FileConfirmView, "inference-confirm"),
    route(F, api.FileDetailView, "inference-file-detail"),
    route(rf"{F}/content", api.FileContentView, "inference-file-content"),
    route(rf"{F}/peaks", api.FilePeaksView, "inference-file-peaks"),
    route(rf"{F}/explain", api.FileExplainView, "inference-file-explain"),
    route(rf"{F}/review", api.FileReviewView, "inference-file-review"),
    route(rf"{F}/results", api.FileResultsView, "inference-file-results"),
    route(
        rf"inference-uploads/(?P<file_id>{UUID})", api.InferenceSignedUploadView, "inference-signed-upload"
    ),
]

urlpatterns = [pattern for pair in routes for pattern in pair]
