"""The Settings and Jobs pages: who sees them, what a save changes, errors next to their field with
the input kept, and cancel and retry only where the role may."""

from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.images.models import ImageSettings, ThumbnailSpec
from apps.jobs.models import Job
from apps.jobs.services import job_create
from tests.conftest import signed_in


def _form(client) -> dict:
    """The settings form as the page fills it, ready to post back."""
    page = client.get("/settings/workspace/")
    assert page.status_code == 200
    form = page.context["form"]
    specs = page.context["specs"]
    data = {name: form[name].value() for name in form.fields if not form.fields[name].disabled}
    data = {k: v for k, v in data.items() if v not in (False, None)}
    data.update({f"spec-{key}": value for key, value in specs.management_form.initial.items()})
    for index, spec in enumerate(specs.initial):
        data.update({f"spec-{index}-{key}": value for key, value in spec.items()})
    return data


def test_the_owner_saves_settings_and_sees_a_success_message(alpha, users):
    client = signed_in(alpha, users["owner"].email)
    data = {**_form(client), "retention_days": "9", "name": "Alpha team", "time_zone": "Asia/Tokyo"}

    response = client.post("/settings/workspace/", data, follow=True)

    assert response.status_code == 200
    assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
        ("success", "Settings saved.")
    ]
    assert b'class="msg-success"' in response.content
    alpha.refresh_from_db()
    assert (alpha.name, alpha.time_zone) == ("Alpha team", "Asia/Tokyo")
    with tenant_context(alpha):
        assert ImageSettings.objects.get().retention_days == 9


def test_a_bad_value_is_shown_next_to_its_field_and_the_input_is_kept(alpha, users):
    client = signed_in(alpha, users["owner"].email)
    data = {**_form(client), "name": "Kept name", "keeper_criteria": "original, filename"}

    response = client.post("/settings/workspace/", data)

    assert response.status_code == 400
    html = response.content.decode()
    assert "Unknown keeper criterion: filename." in html
    assert 'value="Kept name"' in html
    assert "keeper_criteria_invalid" not in html and "settings_invalid" not in html
    assert 'class="msg-error"' in html
    alpha.refresh_from_db()
    assert alpha.name != "Kept name"


def test_an_admin_sees_owner_fields_disabled_and_may_edit_thumbnail_sizes(alpha, users):
    client = signed_in(alpha, users["admin"].email)
    page = client.get("/settings/workspace/")
    assert page.context["form"].fields["retention_days"].disabled
    assert not page.context["form"].fields["keeper_criteria"].disabled
    html = page.content.decode()
    marked = {
        field
        for field in ("name", "time_zone", "retention_days", "keep_gps", "max_upload_mib", "keeper_criteria",
                      "format_priority", "similar_enabled", "similar_threshold", "identical_uploads")
        if "owner only" in html.split(f'data-field="{field}"')[1].split("</div>")[0]
    }  # fmt: skip
    assert marked == {"name", "time_zone", "retention_days", "keep_gps", "max_upload_mib"}
    data = {
        **_form(client),
        "retention_days": "1",  # disabled: ignored, as a browser would not send it
        "spec-TOTAL_FORMS": "4",
        "spec-0-DELETE": "on",
        "spec-3-name": "poster",
        "spec-3-max_width": "900",
        "spec-3-max_height": "600",
        "spec-3-format": "jpeg",
        "spec-3-quality": "85",
    }

    response = client.post("/settings/workspace/", data, follow=True)

    assert response.status_code == 200
    with tenant_context(alpha):
        assert sorted(ThumbnailSpec.objects.filter(is_active=True).values_list("name", flat=True)) == [
            "large",
            "medium",
            "poster",
        ]
        assert (ImageSettings.objects.first() or ImageSettings()).retention_days == 30


def test_apply_thumbnails_starts_the_job_and_shows_it_on_the_jobs_page(alpha, users):
    client = signed_in(alpha, users["admin"].email)

    response = client.post("/settings/workspace/", {"action": "apply_thumbnails"}, follow=True)

    with tenant_context(alpha):
        job = Job.objects.get(kind="thumbnails_apply")
    assert response.redirect_chain[-1][0] == f"/jobs/#job-{job.pk}"
    assert f'id="job-{job.pk}"' in response.content.decode()


def test_viewers_and_members_get_no_settings_page(alpha, users):
    for role in ("viewer", "member"):
        client = signed_in(alpha, users[role].email)
        assert client.get("/settings/workspace/").status_code == 403
        assert b"/settings/workspace/" not in client.get("/jobs/").content


def test_the_jobs_page_lists_visible_kinds_and_offers_cancel_by_role(alpha, users):
    with tenant_context(alpha):
        thumbs = job_create(kind="thumbnails_apply", actor=Actor(user=users["admin"]))
        scan = job_create(kind="storage_scan", actor=Actor.system())
    viewer = signed_in(alpha, users["viewer"].email)
    admin = signed_in(alpha, users["admin"].email)

    viewer_html = viewer.get("/jobs/").content.decode()
    assert f'id="job-{thumbs.pk}"' in viewer_html and f'id="job-{scan.pk}"' not in viewer_html
    assert f"/jobs/{thumbs.pk}/cancel/" not in viewer_html
    assert viewer.post(f"/jobs/{scan.pk}/cancel/").status_code == 404
    viewer.post(f"/jobs/{thumbs.pk}/cancel/")
    with tenant_context(alpha):
        assert Job.objects.get(pk=thumbs.pk).state == "queued"

    admin_html = admin.get("/jobs/").content.decode()
    assert f"/jobs/{scan.pk}/cancel/" in admin_html
    response = admin.post(f"/jobs/{scan.pk}/cancel/", follow=True)
    assert "cancelled" in next(m.message for m in response.context["messages"])
    with tenant_context(alpha):
        assert Job.objects.get(pk=scan.pk).state == "cancelled"


def test_a_bad_filter_value_says_so_instead_of_listing_everything(alpha, users):
    with tenant_context(alpha):
        job_create(kind="thumbnails_apply", actor=Actor.system())
    client = signed_in(alpha, users["viewer"].email)

    response = client.get("/jobs/", {"state": "sleeping"})

    assert response.status_code == 400
    assert "“sleeping” is not a state" in response.content.decode()
    assert list(response.context["rows"]) == []
    assert client.get("/jobs/", {"kind": "storage_scan"}).status_code == 400


def test_another_tenants_job_cannot_be_cancelled_from_here(alpha, beta, users):
    with tenant_context(beta):
        job = job_create(kind="thumbnails_apply", actor=Actor.system())
    client = signed_in(alpha, users["admin"].email)

    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 404
    with tenant_context(beta):
        assert Job.objects.get(pk=job.pk).state == "queued"


def test_two_thumbnail_sizes_with_one_name_are_refused_next_to_the_table(alpha, users):
    client = signed_in(alpha, users["admin"].email)
    data = {**_form(client), "spec-1-name": "small"}

    response = client.post("/settings/workspace/", data)

    assert response.status_code == 400
    assert "Spec names must be unique." in response.content.decode()
    with tenant_context(alpha):
        assert ThumbnailSpec.objects.filter(is_active=True).count() == 3


def test_the_blank_add_row_as_a_browser_sends_it_is_left_alone(alpha, users):
    """A browser sends the blank row's select as its first option: that is the empty choice, so the
    row stays unchanged and the rest of the form is saved."""
    client = signed_in(alpha, users["admin"].email)
    data = {
        **_form(client),
        "spec-3-name": "",
        "spec-3-format": "",
        "spec-3-quality": "",
        "keeper_criteria": "size, original",
    }

    response = client.post("/settings/workspace/", data)

    assert response.status_code == 302
    with tenant_context(alpha):
        assert ThumbnailSpec.objects.filter(is_active=True).count() == 3


def test_the_jobs_page_offers_retry_for_a_failed_job_to_whoever_may_manage_its_kind(alpha, beta, users):
    with tenant_context(alpha):
        failed = job_create(kind="thumbnails_apply", actor=Actor.system())
        Job.objects.filter(pk=failed.pk).update(state="failed", error="worker lost")
    with tenant_context(beta):
        elsewhere = job_create(kind="thumbnails_apply", actor=Actor.system())
        Job.objects.filter(pk=elsewhere.pk).update(state="failed")
    viewer = signed_in(alpha, users["viewer"].email)
    admin = signed_in(alpha, users["admin"].email)

    assert f"/jobs/{failed.pk}/retry/" not in viewer.get("/jobs/").content.decode()
    viewer.post(f"/jobs/{failed.pk}/retry/")
    assert f"/jobs/{failed.pk}/retry/" in admin.get("/jobs/").content.decode()
    assert admin.post(f"/jobs/{elsewhere.pk}/retry/").status_code == 404
    with tenant_context(alpha):
        assert Job.objects.count() == 1

    response = admin.post(f"/jobs/{failed.pk}/retry/", follow=True)

    assert "started again" in next(m.message for m in response.context["messages"])
    with tenant_context(alpha):
        new = Job.objects.exclude(pk=failed.pk).get()
    assert (new.kind, new.state, new.params["retry_of"]) == ("thumbnails_apply", "queued", str(failed.pk))
    assert f"/jobs/{new.pk}/retry/" not in response.content.decode()
    assert admin.post(f"/jobs/{new.pk}/retry/", follow=True).status_code == 200  # queued: refused
    with tenant_context(alpha):
        assert Job.objects.count() == 2
