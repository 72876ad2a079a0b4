"""Content negotiation for download endpoints whose `?format=` is their own parameter."""

from rest_framework.negotiation import DefaultContentNegotiation


class FormatIsOurs(DefaultContentNegotiation):
    """`?format=` names the download's format (json|csv|audacity), not a DRF renderer, so DRF must not
    act on it; error responses are always JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
