"""The Settings page's forms: the workspace's settings, and one row per thumbnail size."""

from zoneinfo import available_timezones

from django import forms

from apps.images.models import IdenticalUploads, ThumbnailFormat

MIB = 1024 * 1024
TIME_ZONES = sorted(available_timezones())


def _order(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class WorkspaceSettingsForm(forms.Form):
    """What people type; the service checks the values (the same rules as the API)."""

    name = forms.CharField(max_length=200)
    time_zone = forms.ChoiceField(choices=[(zone, zone) for zone in TIME_ZONES])
    retention_days = forms.IntegerField(min_value=1, max_value=3650, label="Days in the trash before purge")
    keep_gps = forms.BooleanField(required=False, label="Keep GPS coordinates from photos")
    max_upload_mib = forms.IntegerField(min_value=1, label="Largest upload (MiB)")
    identical_uploads = forms.ChoiceField(choices=IdenticalUploads.choices, label="An upload already stored")
    keeper_criteria = forms.CharField(label="Keeper criteria, first decides")
    format_priority = forms.CharField(label="Preferred formats, best first")
    similar_enabled = forms.BooleanField(required=False, label="Also group visually similar images")
    similar_threshold = forms.FloatField(
        min_value=0.8,
        max_value=0.99,
        label="Similarity threshold (0.80 to 0.99)",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.8", "max": "0.99"}),
    )

    def __init__(self, *args, editable: dict[str, bool], **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            setting = "max_upload_bytes" if name == "max_upload_mib" else name
            if not editable.get(setting, False):
                field.disabled = True
            attrs = {"class": "small"} if isinstance(field, forms.ChoiceField) else {}
            field.widget.attrs.update(attrs)

    def changes(self, current: dict) -> dict:
        """The settings that differ from `current`, in the service's terms (disabled fields never)."""
        data = self.cleaned_data
        values = {
            "name": data["name"],
            "time_zone": data["time_zone"],
            "retention_days": data["retention_days"],
            "keep_gps": data["keep_gps"],
            "max_upload_bytes": data["max_upload_mib"] * MIB,
            "identical_uploads": data["identical_uploads"],
            "keeper_criteria": _order(data["keeper_criteria"]),
            "format_priority": _order(data["format_priority"]),
            "similar_enabled": data["similar_enabled"],
            "similar_threshold": data["similar_threshold"],
        }
        if current["max_upload_bytes"] // MIB == data["max_upload_mib"]:
            values["max_upload_bytes"] = current["max_upload_bytes"]  # not changed in whole MiB
        form_name = {"max_upload_bytes": "max_upload_mib"}
        return {
            key: value
            for key, value in values.items()
            if not self.fields[form_name.get(key, key)].disabled and value != current[key]
        }

    @staticmethod
    def initial_from(current: dict) -> dict:
        return {
            **current,
            "max_upload_mib": max(1, current["max_upload_bytes"] // MIB),
            "keeper_criteria": ", ".join(current["keeper_criteria"]),
            "format_priority": ", ".join(current["format_priority"]),
        }


class SpecForm(forms.Form):
    name = forms.SlugField(max_length=50)
    max_width = forms.IntegerField(min_value=16, max_value=4096)
    max_height = forms.IntegerField(min_value=16, max_value=4096)
    # an empty first choice, so the blank "add a size" row is left alone until someone fills it
    format = forms.ChoiceField(choices=[("", "—"), *ThumbnailFormat.choices])
    quality = forms.IntegerField(min_value=1, max_value=100)


SpecFormSet = forms.formset_factory(SpecForm, extra=1, can_delete=True, max_num=10)
