from django.urls import path

from training import views

app_name = "training"

urlpatterns = [
    path("training/", views.job_list, name="jobs"),
    path("training/<uuid:job_id>/", views.job_detail, name="job"),
    path("training/<uuid:job_id>/cancel/", views.cancel_job, name="cancel"),
    path("datasets/<uuid:dataset_id>/sets/<uuid:set_id>/train/", views.start_training, name="start"),
    path("models/", views.model_list, name="models"),
    path("models/<uuid:model_id>/", views.model_detail, name="model"),
]
