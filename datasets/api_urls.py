"""API routes for datasets, audio and annotations. Paths carry no trailing slash (Relay's style);
one is tolerated."""

from datasets import annotation_api, api, transfer_api
from relayweb.routes import UUID, route

D = rf"datasets/(?P<dataset_id>{UUID})"
S = rf"{D}/annotation-sets/(?P<set_id>{UUID})"

routes = [
    route("datasets", api.DatasetListView, "dataset-list"),
    route(D, api.DatasetDetailView, "dataset-detail"),
    route(rf"{D}/audio", api.AudioListView, "audio-list"),
    route(rf"{D}/audio/upload-url", api.UploadUrlView, "audio-upload-url"),
    route(rf"{D}/audio/confirm", api.ConfirmView, "audio-confirm"),
    route(rf"{D}/audio/(?P<audio_id>{UUID})", api.AudioDetailView, "audio-detail"),
    route(rf"{D}/audio/(?P<audio_id>{UUID})/content", api.AudioContentView, "audio-content"),
    route(rf"{D}/audio/(?P<audio_id>{UUID})/peaks", api.AudioPeaksView, "audio-peaks"),
    route(rf"{D}/audio/(?P<audio_id>{UUID})/spectrogram", api.AudioSpectrogramView, "audio-spectrogram"),
    route(rf"uploads/(?P<audio_id>{UUID})", api.SignedUploadView, "signed-upload"),
    route(rf"{D}/annotation-sets", annotation_api.AnnotationSetListView, "set-list"),
    route(S, annotation_api.AnnotationSetDetailView, "set-detail"),
    route(rf"{S}/publish", annotation_api.PublishView, "set-publish"),
    route(rf"{S}/export", transfer_api.ExportView, "set-export"),
    route(rf"{S}/import", transfer_api.ImportView, "set-import"),
    route(rf"{S}/annotations", annotation_api.AnnotationListView, "annotation-list"),
    route(rf"{S}/annotations/bulk", annotation_api.BulkAnnotationView, "annotation-bulk"),
    route(
        rf"{S}/annotations/(?P<annotation_id>{UUID})",
        annotation_api.AnnotationDetailView,
        "annotation-detail",
    ),
]

urlpatterns = [pattern for pair in routes for pattern in pair]
