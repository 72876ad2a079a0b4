from django.urls import path
from django.views.generic import RedirectView

from datasets import views

app_name = "datasets"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="datasets:list"), name="home"),
    path("datasets/", views.dataset_list, name="list"),
    path("datasets/<uuid:dataset_id>/", views.dataset_detail, name="detail"),
    path("datasets/<uuid:dataset_id>/upload/", views.upload_audio, name="upload"),
    path("datasets/<uuid:dataset_id>/types/", views.edit_types, name="types"),
    path("datasets/<uuid:dataset_id>/sets/new/", views.new_set, name="new-set"),
    path("datasets/<uuid:dataset_id>/sets/<uuid:set_id>/publish/", views.publish_set, name="publish-set"),
    path("datasets/<uuid:dataset_id>/sets/<uuid:set_id>/import/", views.import_set, name="import-set"),
    path(
        "datasets/<uuid:dataset_id>/sets/<uuid:set_id>/annotate/<uuid:audio_id>/",
        views.annotate,
        name="annotate",
    ),
]
