from django.urls import path
from django.views.generic import RedirectView

from datasets import views

app_name = "datasets"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="datasets:list"), name="home"),
    path("datasets/", views.dataset_list, name="list"),
    path("datasets/<uuid:dataset_id>/", views.dataset_detail, name="detail"),
    path("datasets/<uuid:dataset_id>/upload/", views.upload_audio, name="upload"),
]
