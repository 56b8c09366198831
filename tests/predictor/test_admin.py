"""The admin: predictions (list, filters, search, ordering, actions, change page, export) and model
versions (list, live agreement, activate/roll back), as a superuser, a reviewer and outsiders."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ml.data import read_csv
from predictor.models import Label, ModelVersion, Prediction, Source

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:predictor_prediction_changelist")
VERSIONS = reverse("admin:predictor_modelversion_changelist")


def change_url(prediction: Prediction) -> str:
    return reverse("admin:predictor_prediction_change", args=[prediction.pk])


def shown(response) -> list[Prediction]:
    """The predictions on a changelist page, in page order."""
    return list(response.context["cl"].result_list)


def ordering_param(response, column: str) -> int:
    """The `o` index Django's changelist uses for a list_display column."""
    return response.context["cl"].list_display.index(column)


def run_action(client, action: str, predictions, **extra):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [p.pk for p in predictions], **extra},
        follow=True,
    )


# --- who gets in ------------------------------------------------------------------------------


def test_superuser_sees_every_column(admin_client, make_prediction):
    make_prediction("Flood warning for the valley", keyword="flood", location="Leeds")
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', html)
    assert headers == [
        "short_text",
        "keyword",
        "location",
        "predicted",
        "probability_display",
        "margin",
        "version",
        "true_label",
        "reviewed_by",
        "suspicion_display",
        "created_display",
    ]
    for header in ("Text", "Keyword", "Location", "Predicted", "Probability", "Margin", "Model"):
        assert f">{header}</a>" in html or f">{header}</span>" in html, header
    assert "True label" in html and "Reviewed by" in html and "Created" in html
    assert "Flood warning for the valley" in html and "0.700" in html and "v1" in html


def test_reviewer_sees_the_list(reviewer_client, make_prediction):
    make_prediction()
    response = reviewer_client.get(CHANGELIST)
    assert response.status_code == 200
    assert len(shown(response)) == 1


def test_a_plain_user_is_sent_to_the_login_page(plain_client):
    response = plain_client.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_permissions_is_forbidden(staff_client):
    assert staff_client.get(CHANGELIST).status_code == 403


def test_predictions_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:predictor_prediction_add")).status_code == 403
    assert "Add prediction" not in admin_client.get(CHANGELIST).content.decode()


# --- filters, search, ordering ----------------------------------------------------------------


@pytest.fixture
def review_mix(make_prediction, make_version, admin_user):
    """Six predictions: two versions, both labels, reviewed right, reviewed wrong, unreviewed."""
    v2 = make_version("v2", artifact=False)
    now = timezone.now()
    return {
        "said_yes_right": make_prediction(
            "yes right", probability=0.9, true_label=Label.DISASTER, reviewed_by=admin_user
        ),
        "said_yes_wrong": make_prediction(
            "yes wrong", probability=0.6, true_label=Label.NOT_DISASTER, reviewed_by=admin_user
        ),
        "said_no_right": make_prediction(
            "no right", probability=0.1, true_label=Label.NOT_DISASTER, source=Source.FORM
        ),
        "said_no_wrong": make_prediction(
            "no wrong", probability=0.3, true_label=Label.DISASTER, version=v2
        ),
        "unreviewed_yes": make_prediction("open yes", probability=0.55, version=v2),
        "unreviewed_no": make_prediction(
            "open no", probability=0.45, created=now - timedelta(days=400)
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"predicted_label__exact": "disaster"},
            {"said_yes_right", "said_yes_wrong", "unreviewed_yes"},
        ),
        ({"true_label__exact": "disaster"}, {"said_yes_right", "said_no_wrong"}),
        ({"true_label__isnull": "True"}, {"unreviewed_yes", "unreviewed_no"}),
        ({"reviewed": "no"}, {"unreviewed_yes", "unreviewed_no"}),
        (
            {"reviewed": "yes"},
            {"said_yes_right", "said_yes_wrong", "said_no_right", "said_no_wrong"},
        ),
        ({"wrong": "yes"}, {"said_yes_wrong", "said_no_wrong"}),
        ({"wrong": "no"}, {"said_yes_right", "said_no_right"}),
        ({"source__exact": "form"}, {"said_no_right"}),
        ({"wrong": "yes", "predicted_label__exact": "not_disaster"}, {"said_no_wrong"}),
    ],
)
def test_filters(admin_client, review_mix, query, expected):
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    names = {name for name, p in review_mix.items() if p in shown(response)}
    assert names == expected


def test_filter_by_model_version(admin_client, review_mix):
    v2 = ModelVersion.objects.get(name="v2")
    response = admin_client.get(CHANGELIST, {"model_version__id__exact": v2.pk})
    assert set(shown(response)) == {review_mix["said_no_wrong"], review_mix["unreviewed_yes"]}


def test_date_hierarchy_drills_down_by_created(admin_client, review_mix):
    old = timezone.localtime(review_mix["unreviewed_no"].created)
    now = timezone.localtime()
    html = admin_client.get(CHANGELIST).content.decode()
    assert f'<a href="?created__year={old.year}">{old.year}</a>' in html
    assert f'<a href="?created__year={now.year}">{now.year}</a>' in html
    response = admin_client.get(CHANGELIST, {"created__year": old.year})
    assert review_mix["unreviewed_no"] in shown(response)
    assert f"created__month={old.month}&amp;created__year={old.year}" in response.content.decode()
    month = {"created__year": now.year, "created__month": now.month}
    day_link = f"created__day={now.day}&amp;created__month={now.month}"
    assert day_link in admin_client.get(CHANGELIST, month).content.decode()
    response = admin_client.get(CHANGELIST, {**month, "created__day": now.day})
    assert review_mix["unreviewed_no"] not in shown(response)
    assert len(shown(response)) == 5


@pytest.mark.parametrize(
    ("term", "field"), [("earthquake", "text"), ("quakes", "keyword"), ("Osaka", "location")]
)
def test_search_looks_at_text_keyword_and_location(admin_client, make_prediction, term, field):
    values = {"text": "Nothing here", "keyword": "", "location": ""}
    values[field] = {"text": "Big earthquake today", "keyword": "quakes", "location": "Osaka"}[
        field
    ]
    hit = make_prediction(values.pop("text"), **values)
    make_prediction("An unrelated post", keyword="music", location="Paris")
    response = admin_client.get(CHANGELIST, {"q": term})
    assert shown(response) == [hit]


def test_ordering_by_probability_and_by_uncertainty(admin_client, review_mix):
    page = admin_client.get(CHANGELIST)
    by_probability = admin_client.get(
        CHANGELIST, {"o": ordering_param(page, "probability_display")}
    )
    probabilities = [p.probability for p in shown(by_probability)]
    assert probabilities == sorted(probabilities)

    by_margin = admin_client.get(CHANGELIST, {"o": ordering_param(page, "margin")})
    margins = [abs(p.probability - p.threshold) for p in shown(by_margin)]
    assert margins == sorted(margins)
    assert shown(by_margin)[0] in (review_mix["unreviewed_yes"], review_mix["unreviewed_no"])

    by_created = admin_client.get(CHANGELIST, {"o": ordering_param(page, "created_display")})
    created = [p.created for p in shown(by_created)]
    assert created == sorted(created)


def test_default_order_is_newest_first(admin_client, review_mix):
    created = [p.created for p in shown(admin_client.get(CHANGELIST))]
    assert created == sorted(created, reverse=True)


def test_the_changelist_links_to_the_queue_and_the_dashboard(admin_client):
    html = admin_client.get(CHANGELIST).content.decode()
    assert reverse("admin:predictor_prediction_review") in html
    assert reverse("admin:predictor_prediction_dashboard") in html


# --- a page costs a fixed number of queries, however many rows ------------------------------


def bulk_predictions(version: ModelVersion, count: int, reviewer=None) -> None:
    now = timezone.now()
    rows = []
    for n in range(count):
        probability = (n % 1000) / 1000
        reviewed = reviewer is not None and n % 3 == 0
        rows.append(
            Prediction(
                text=f"Post number {n} about the flood downtown" + " and more" * (n % 7),
                keyword=("flood", "fire", "")[n % 3],
                location=("Leeds", "", "Osaka")[n % 3],
                probability=probability,
                threshold=version.threshold,
                predicted_label=Label.DISASTER if probability >= 0.5 else Label.NOT_DISASTER,
                model_version=version,
                source=Source.API,
                created=now - timedelta(minutes=n),
                true_label=(Label.DISASTER if n % 2 else Label.NOT_DISASTER) if reviewed else None,
                reviewed_by=reviewer if reviewed else None,
                reviewed_at=now if reviewed else None,
            )
        )
    Prediction.objects.bulk_create(rows, batch_size=5000)


def changelist_queries(client, query=None) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(CHANGELIST, query or {}).status_code == 200
    return len(context.captured_queries)


def test_changelist_queries_do_not_grow_with_rows(admin_client, make_version, admin_user):
    version = make_version("v1", artifact=False)
    bulk_predictions(version, 5, admin_user)
    few = changelist_queries(admin_client)
    bulk_predictions(version, 400, admin_user)
    make_version("v2", artifact=False)
    assert changelist_queries(admin_client) == few
    assert changelist_queries(admin_client, {"reviewed": "yes"}) == few


def test_changelist_with_100k_rows_keeps_its_queries_few(
    admin_client, make_version, admin_user, django_assert_max_num_queries
):
    bulk_predictions(make_version("v1", artifact=False), 100_000, admin_user)
    margin = ordering_param(admin_client.get(CHANGELIST), "margin")  # warms the caches too
    year = timezone.localdate().year
    for query in (
        {},
        {"reviewed": "no"},
        {"wrong": "yes", "o": f"-{margin}"},
        {"q": "flood", "o": margin},
        {"created__year": year, "p": 50},
    ):
        with django_assert_max_num_queries(10):
            response = admin_client.get(CHANGELIST, query)
        assert response.status_code == 200
        assert len(shown(response)) == 100


# --- relabel actions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "label"),
    [
        ("mark_disaster", Label.DISASTER),
        ("mark_not_disaster", Label.NOT_DISASTER),
    ],
)
def test_mark_actions_record_reviewer_time_and_history(
    admin_client, admin_user, make_prediction, action, label
):
    first, second = make_prediction("first"), make_prediction("second", probability=0.2)
    before = timezone.now()
    response = run_action(admin_client, action, [first, second])
    assert response.status_code == 200
    assert "2 predictions set to" in response.content.decode()
    for prediction in (first, second):
        prediction.refresh_from_db()
        assert prediction.true_label == label
        assert prediction.reviewed_by == admin_user
        assert prediction.reviewed_at >= before
        entry = LogEntry.objects.get(object_id=str(prediction.pk))
        assert entry.user == admin_user
        assert entry.action_flag == CHANGE
        assert entry.get_change_message() == (
            f"True label: not reviewed → {Label(label).label} (admin action)."
        )
    history = admin_client.get(
        reverse("admin:predictor_prediction_history", args=[first.pk])
    ).content.decode()
    assert admin_user.username in history
    assert f"not reviewed → {Label(label).label}" in history


def test_clear_label_forgets_reviewer_and_time_and_is_logged(
    admin_client, admin_user, make_prediction
):
    labelled = make_prediction(
        true_label=Label.DISASTER, reviewed_by=admin_user, reviewed_at=timezone.now()
    )
    untouched = make_prediction()
    response = run_action(admin_client, "clear_label", [labelled, untouched])
    assert "1 prediction set to “not reviewed”. 1 already were." in response.content.decode()
    labelled.refresh_from_db()
    assert (labelled.true_label, labelled.reviewed_by, labelled.reviewed_at) == (None, None, None)
    assert LogEntry.objects.get().get_change_message() == (
        "True label: Disaster → not reviewed (admin action)."
    )


def test_relabel_leaves_rows_that_already_carry_the_label_alone(
    admin_client, admin_user, make_prediction
):
    earlier = timezone.now() - timedelta(days=3)
    done = make_prediction(true_label=Label.DISASTER, reviewed_by=admin_user, reviewed_at=earlier)
    run_action(admin_client, "mark_disaster", [done])
    done.refresh_from_db()
    assert done.reviewed_at == earlier
    assert not LogEntry.objects.exists()


def test_reviewer_can_relabel_in_bulk(reviewer_client, reviewer, make_prediction):
    prediction = make_prediction()
    run_action(reviewer_client, "mark_not_disaster", [prediction])
    prediction.refresh_from_db()
    assert prediction.true_label == Label.NOT_DISASTER
    assert prediction.reviewed_by == reviewer


def test_select_all_across_pages_relabels_the_filtered_set(admin_client, make_prediction):
    for n in range(120):
        make_prediction(f"post {n}", probability=0.9 if n % 2 else 0.1)
    response = admin_client.post(
        CHANGELIST + "?predicted_label__exact=disaster",
        {"action": "mark_disaster", "select_across": "1", "_selected_action": ["1"]},
        follow=True,
    )
    assert "60 predictions set to" in response.content.decode()
    assert Prediction.objects.filter(true_label=Label.DISASTER).count() == 60
    assert LogEntry.objects.count() == 60


def test_a_user_who_may_only_view_cannot_relabel(client, django_user_model, make_prediction):
    viewer = django_user_model.objects.create_user("vic", password="view-pass-123", is_staff=True)
    viewer.user_permissions.add(
        *Group.objects.get(name="Reviewers").permissions.filter(codename="view_prediction")
    )
    client.force_login(viewer)
    prediction = make_prediction()
    page = client.get(CHANGELIST).content.decode()
    assert "Mark as disaster" not in page
    assert "Export selected as CSV" in page
    run_action(client, "mark_disaster", [prediction])
    prediction.refresh_from_db()
    assert prediction.true_label is None


def test_action_names(admin_client, make_prediction):
    make_prediction()
    html = admin_client.get(CHANGELIST).content.decode()
    for name in (
        "Mark as disaster",
        "Mark as not disaster",
        "Clear reviewer label",
        "Export selected as CSV",
    ):
        assert f">{name}</option>" in html


# --- the change page --------------------------------------------------------------------------


def test_change_page_shows_the_full_text_and_only_true_label_is_editable(
    admin_client, make_prediction
):
    long_text = "A very long post about the flood " * 12
    prediction = make_prediction(long_text.strip())
    response = admin_client.get(change_url(prediction))
    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == ["true_label"]
    assert long_text.strip() in response.content.decode()


def test_saving_the_change_page_goes_through_the_review_service(
    admin_client, admin_user, make_prediction
):
    prediction = make_prediction()
    response = admin_client.post(change_url(prediction), {"true_label": "not_disaster"})
    assert response.status_code == 302
    prediction.refresh_from_db()
    assert prediction.true_label == Label.NOT_DISASTER
    assert prediction.reviewed_by == admin_user
    assert prediction.reviewed_at is not None
    entry = LogEntry.objects.get()
    assert entry.get_change_message() == (
        "True label: not reviewed → Not a disaster (admin change page)."
    )

    admin_client.post(change_url(prediction), {"true_label": ""})
    prediction.refresh_from_db()
    assert (prediction.true_label, prediction.reviewed_by) == (None, None)
    assert LogEntry.objects.count() == 2


def test_saving_the_change_page_ignores_read_only_fields(admin_client, make_prediction):
    prediction = make_prediction()
    admin_client.post(
        change_url(prediction),
        {"true_label": "disaster", "text": "changed", "probability": "0.01"},
    )
    prediction.refresh_from_db()
    assert prediction.text == "Forest fire near La Ronge Sask. Canada"
    assert prediction.probability == 0.7


def test_saving_without_a_change_writes_no_history(admin_client, make_prediction):
    prediction = make_prediction()
    admin_client.post(change_url(prediction), {"true_label": ""})
    assert not LogEntry.objects.exists()


def test_reviewer_relabels_on_the_change_page(reviewer_client, reviewer, make_prediction):
    prediction = make_prediction()
    reviewer_client.post(change_url(prediction), {"true_label": "disaster"})
    prediction.refresh_from_db()
    assert (prediction.true_label, prediction.reviewed_by) == (Label.DISASTER, reviewer)


# --- export -----------------------------------------------------------------------------------


def test_export_selected_as_csv(admin_client, admin_user, make_prediction, tmp_path):
    reviewed = make_prediction(
        "Bridge collapse, 3 hurt",
        probability=0.2,
        keyword="collapse",
        location='Leeds, "UK"',
        true_label=Label.DISASTER,
        reviewed_by=admin_user,
        reviewed_at=timezone.now(),
    )
    open_one = make_prediction("Lovely day,\nreally", probability=0.8)
    make_prediction("not selected")
    response = run_action(admin_client, "export_csv", [reviewed, open_one])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="predictions-')
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(rows[0]) == [
        "id",
        "keyword",
        "location",
        "text",
        "target",
        "predicted_target",
        "probability",
        "model_version",
        "reviewed",
    ]
    assert [row["id"] for row in rows] == [str(reviewed.pk), str(open_one.pk)]
    assert rows[0] | {"probability": "x"} == {
        "id": str(reviewed.pk),
        "keyword": "collapse",
        "location": 'Leeds, "UK"',
        "text": "Bridge collapse, 3 hurt",
        "target": "1",  # the reviewer's label wins
        "predicted_target": "0",
        "probability": "x",
        "model_version": "v1",
        "reviewed": "1",
    }
    assert (rows[1]["target"], rows[1]["reviewed"], rows[1]["text"]) == (
        "1",
        "0",
        "Lovely day,\nreally",
    )

    path = tmp_path / "export.csv"
    path.write_text(body, encoding="utf-8")
    data = read_csv(path)
    assert len(data) == 2


# --- model versions ---------------------------------------------------------------------------


def test_version_list_columns_and_live_agreement(
    admin_client, make_version, make_prediction, admin_user
):
    v1 = make_version(
        "v1",
        base_rows=7613,
        feedback_rows=12,
        train_seconds=41.5,
        metrics={"f1": 0.8, "accuracy": 0.81},
        artifact=False,
    )
    make_version("v2", artifact=False)
    for probability, truth in [(0.9, "disaster"), (0.8, "not_disaster"), (0.1, "not_disaster")]:
        make_prediction(
            probability=probability, version=v1, true_label=truth, reviewed_by=admin_user
        )
    make_prediction(probability=0.9, version=v1)  # unreviewed: not counted
    response = admin_client.get(VERSIONS)
    assert response.status_code == 200
    html = response.content.decode()
    for header in (
        "Name",
        "Created",
        "Active",
        "Eval F1",
        "Eval precision",
        "Eval recall",
        "Eval set",
        "OOF F1",
        "OOF accuracy",
        "Threshold",
        "Base rows",
        "Feedback rows",
        "Train seconds",
        "Live agreement",
    ):
        assert header in html
    assert "66.7% of 3" in html
    assert "7613" in html and "0.800" in html and "0.810" in html


def test_version_list_queries_do_not_grow_with_versions(admin_client, make_version):
    make_version("v1", artifact=False)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(VERSIONS)
    for n in range(2, 12):
        make_version(f"v{n}", artifact=False)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(VERSIONS)
    assert len(many.captured_queries) == len(few.captured_queries)


def activate(client, *versions):
    return client.post(
        VERSIONS,
        {"action": "activate", "_selected_action": [v.pk for v in versions]},
        follow=True,
    )


def test_activate_an_older_version_and_back(admin_client, admin_user, make_version):
    v1 = make_version("v1")
    v2 = make_version("v2")
    assert ModelVersion.objects.get(is_active=True) == v2

    response = activate(admin_client, v1)
    assert "Activated model v1 (was v2)." in response.content.decode()
    assert ModelVersion.objects.get(is_active=True) == v1
    entry = LogEntry.objects.get(object_id=str(v1.pk))
    assert (entry.user, entry.get_change_message()) == (admin_user, "Activated (was v2).")

    activate(admin_client, v2)
    assert ModelVersion.objects.get(is_active=True) == v2

    history = admin_client.get(reverse("admin:predictor_modelactivation_changelist"))
    rows = [
        [cell.strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", history.content.decode(), re.S)[1:]
    ]
    # Newest first: back to v2, then v1 replacing v2, then each version's own activation.
    assert [row[1:5] for row in rows[:2]] == [
        ["v2", "v1", admin_user.username, "admin"],
        ["v1", "v2", admin_user.username, "admin"],
    ]
    assert len(rows) == 4


def test_activate_needs_exactly_one_version(admin_client, make_version):
    v1, v2 = make_version("v1"), make_version("v2")
    response = activate(admin_client, v1, v2)
    assert "Select exactly one version to activate." in response.content.decode()
    assert ModelVersion.objects.get(is_active=True) == v2


def test_activate_the_active_version_says_so(admin_client, make_version):
    v1 = make_version("v1")
    assert "Model v1 is already active." in activate(admin_client, v1).content.decode()


def test_activate_with_a_missing_artifact_is_an_error_message_not_a_500(admin_client, make_version):
    v1 = make_version("v1")
    broken = make_version("v9", artifact=False)
    response = activate(admin_client, broken)
    assert response.status_code == 200
    assert "Could not activate v9: artifact of v9 is missing" in response.content.decode()
    assert ModelVersion.objects.get(is_active=True) == v1


def test_a_reviewer_cannot_activate(reviewer_client, make_version):
    v1, v2 = make_version("v1"), make_version("v2")
    page = reviewer_client.get(VERSIONS)
    assert page.status_code == 200
    assert "Activate selected version" not in page.content.decode()
    activate(reviewer_client, v1)
    assert ModelVersion.objects.get(is_active=True) == v2


def test_activate_needs_its_own_permission(client, django_user_model, make_version):
    from django.contrib.auth.models import Permission

    operator = django_user_model.objects.create_user("ops", password="ops-pass-123", is_staff=True)
    operator.user_permissions.add(
        Permission.objects.get(codename="view_modelversion"),
        Permission.objects.get(codename="activate_modelversion"),
    )
    client.force_login(operator)
    v1, _ = make_version("v1"), make_version("v2")
    activate(client, v1)
    assert ModelVersion.objects.get(is_active=True) == v1


def test_versions_are_read_only(admin_client, make_version, make_prediction):
    used = make_version("v1", artifact=False)
    make_prediction(version=used)
    unused = make_version("v2", artifact=False)
    assert admin_client.get(reverse("admin:predictor_modelversion_add")).status_code == 403
    page = admin_client.get(reverse("admin:predictor_modelversion_change", args=[used.pk]))
    assert page.status_code == 200
    assert not page.context["adminform"].form.fields
    html = page.content.decode()
    assert 'name="_save"' not in html
    admin_client.post(
        reverse("admin:predictor_modelversion_change", args=[used.pk]), {"threshold": "0.1"}
    )
    used.refresh_from_db()
    assert used.threshold == 0.5

    delete_used = reverse("admin:predictor_modelversion_delete", args=[used.pk])
    assert admin_client.post(delete_used, {"post": "yes"}).status_code == 403
    assert ModelVersion.objects.filter(pk=used.pk).exists()
    assert "delete_selected" not in admin_client.get(VERSIONS).content.decode()
    delete_unused = reverse("admin:predictor_modelversion_delete", args=[unused.pk])
    assert admin_client.post(delete_unused, {"post": "yes"}).status_code == 302
    assert not ModelVersion.objects.filter(pk=unused.pk).exists()


def test_the_active_version_cannot_be_deleted(admin_client, make_version):
    v1 = make_version("v1")
    url = reverse("admin:predictor_modelversion_delete", args=[v1.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403


# --- the admin index and roles ----------------------------------------------------------------


def test_admin_index_links_the_review_pages_and_counts_labels_newer_than_the_model(
    admin_client, admin_user, make_version, make_prediction
):
    version = make_version("v1")
    make_prediction(version=version)
    make_prediction(
        version=version,
        true_label=Label.DISASTER,
        reviewed_by=admin_user,
        reviewed_at=version.created - timedelta(hours=1),
    )
    for _ in range(2):
        make_prediction(
            version=version,
            true_label=Label.DISASTER,
            reviewed_by=admin_user,
            reviewed_at=timezone.now(),
        )
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:predictor_prediction_review") in html
    assert f'{reverse("admin:predictor_prediction_dashboard")}"><strong>Dashboard' in html
    assert "1 unreviewed prediction," in html
    assert "2 reviewed labels are" in html and "newer than the active model" in html
    assert "manage.py retrain" in html


def test_admin_index_for_a_reviewer(reviewer_client):
    response = reviewer_client.get(reverse("admin:index"))
    html = response.content.decode()
    assert "Review queue" in html and "Dashboard" in html
    assert "Users" not in html  # cannot manage users


def test_reviewers_group_permissions():
    group = Group.objects.get(name="Reviewers")
    assert set(group.permissions.values_list("codename", flat=True)) == {
        "view_prediction",
        "change_prediction",
        "view_modelversion",
        "view_job",
    }


def test_a_reviewer_cannot_manage_users(reviewer_client):
    assert reviewer_client.get(reverse("admin:auth_user_changelist")).status_code == 403
