from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.defaults import bad_request, page_not_found, server_error
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from relayweb.api import HealthView
from relayweb.errors import suspicious_error
from relayweb.metrics import metrics

api_patterns = [
    re_path(r"^health$", HealthView.as_view(), name="health"),
    re_path(r"^schema$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs$", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include("datasets.api_urls")),
    path("", include("training.api_urls")),
    path("", include("inference.api_urls")),
    path("", include("relayweb.webhook_urls")),
]

urlpatterns = [
    path("api/v1/", include((api_patterns, "api"))),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("", include("relayweb.page_urls")),
    path("", include("datasets.urls")),
    path("", include("training.urls")),
    path("", include("inference.urls")),
]


def handler400(request, exception=None):
    # What Django refuses before a view runs (a disallowed host, a malformed body) is JSON on the API.
    if request.path.startswith("/api/"):
        code, body = suspicious_error(exception)
        return JsonResponse(body, status=code)
    return bad_request(request, exception)


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found"}, status=404)
    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error"}, status=500)
    return server_error(request)
