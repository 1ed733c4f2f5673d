"""The Webhooks page's forms: what people type. The services check the rest (the URL's address
rules, the events, the number of endpoints), as they do for the API."""

from django import forms

from apps.webhooks.models import WebhookEvent

# A ping is sent on request ("Send a test ping"), whatever the endpoint listens to: not a choice.
EVENT_CHOICES = [(value, label) for value, label in WebhookEvent.choices if value != WebhookEvent.PING]


class EndpointForm(forms.Form):
    url = forms.URLField(
        max_length=2000,
        label="URL",
        assume_scheme="https",
        help_text="An https address that DeepLens can reach; it gets a signed POST per event.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/deeplens"}),
    )
    description = forms.CharField(max_length=200, required=False, label="Description")
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        error_messages={"required": "Choose at least one event."},
    )


class EndpointEditForm(EndpointForm):
    is_active = forms.BooleanField(
        required=False,
        label="Enabled",
        help_text="Switching it on again clears the failure count.",
    )

    def changes(self, endpoint) -> dict:
        """The fields that differ from the endpoint, in webhook_endpoint_update's terms. An event
        the form does not offer (a ping subscribed through the API) is kept."""
        data = self.cleaned_data
        kept = [event for event in endpoint.events if event not in dict(EVENT_CHOICES)]
        values = {
            "url": data["url"],
            "description": data["description"],
            "events": sorted({*data["events"], *kept}),
            "is_active": data["is_active"],
        }
        current = {
            "url": endpoint.url,
            "description": endpoint.description,
            "events": sorted(endpoint.events),
            "is_active": endpoint.is_active,
        }
        return {key: value for key, value in values.items() if value != current[key]}

    @staticmethod
    def initial_from(endpoint) -> dict:
        return {
            "url": endpoint.url,
            "description": endpoint.description,
            "events": list(endpoint.events),
            "is_active": endpoint.is_active,
        }
