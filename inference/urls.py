from django.urls import path

from inference import views

app_name = "inference"

urlpatterns = [
    path("inference/", views.job_list, name="jobs"),
    path("inference/<uuid:job_id>/", views.job_detail, name="job"),
    path("inference/<uuid:job_id>/cancel/", views.cancel_job, name="cancel"),
    path("inference/<uuid:job_id>/files/<uuid:file_id>/", views.file_detail, name="file"),
]
