from django.urls import path

from inference import classification_views, views

app_name = "inference"

urlpatterns = [
    path("inference/", views.job_list, name="jobs"),
    path("inference/<uuid:job_id>/", views.job_detail, name="job"),
    path("inference/<uuid:job_id>/cancel/", views.cancel_job, name="cancel"),
    path("inference/<uuid:job_id>/files/<uuid:file_id>/", views.file_detail, name="file"),
    path("classifications/", classification_views.classification_list, name="classifications"),
    path(
        "classifications/<uuid:identifier>/",
        classification_views.classification_detail,
        name="classification",
    ),
]
