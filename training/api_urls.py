from relayweb.routes import UUID, route
from training import api

J = rf"training-jobs/(?P<job_id>{UUID})"
M = rf"models/(?P<model_id>{UUID})"

routes = [
    route("training-jobs", api.TrainingJobListView, "training-job-list"),
    route(J, api.TrainingJobDetailView, "training-job-detail"),
    route(rf"{J}/cancel", api.TrainingJobCancelView, "training-job-cancel"),
    route("models", api.ModelListView, "model-list"),
    route(M, api.ModelDetailView, "model-detail"),
    route(rf"{M}/download", api.ModelDownloadView, "model-download"),
]

urlpatterns = [pattern for pair in routes for pattern in pair]
