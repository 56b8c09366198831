"""The review queue and the dashboard (staff pages inside the admin)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from predictor import admin_views, selectors
from predictor.models import Label, Prediction, Review

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:predictor_prediction_review")
DASHBOARD = reverse("admin:predictor_prediction_dashboard")


def current(response) -> Prediction | None:
    return response.context["prediction"]


def decide(client, prediction: Prediction, decision: str):
    return client.post(QUEUE, {"prediction": prediction.pk, "decision": decision})


def assert_no_inline_code(html: str) -> None:
    """Ready for a Content-Security-Policy without 'unsafe-inline'."""
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S):
        assert not script.strip() or script.lstrip().startswith("{"), script[:80]
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


@pytest.fixture
def queue(make_prediction):
    """Four unreviewed predictions at known distances from the 0.5 threshold, one reviewed."""
    return {
        "closest": make_prediction("closest", probability=0.51),
        "second": make_prediction("second", probability=0.45),
        "third": make_prediction("third", probability=0.8),
        "far": make_prediction("far", probability=0.01),
        "done": make_prediction("done", probability=0.5, true_label=Label.DISASTER),
    }


# --- the queue --------------------------------------------------------------------------------


def test_queue_shows_the_most_uncertain_unreviewed_prediction(admin_client, queue):
    response = admin_client.get(QUEUE)
    assert response.status_code == 200
    assert current(response) == queue["closest"]
    html = response.content.decode()
    assert "closest" in html
    for label in ("Disaster", "Not a disaster", "Skip"):
        assert f">{label} <kbd" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'data-shortcut="d"' in html and 'data-shortcut="n"' in html
    assert 'data-shortcut="s"' in html


def test_labelling_records_it_logs_it_and_moves_to_the_next(admin_client, admin_user, queue):
    response = decide(admin_client, queue["closest"], "disaster")
    assert response.status_code == 302
    assert response["Location"] == QUEUE
    closest = Prediction.objects.get(pk=queue["closest"].pk)
    assert (closest.true_label, closest.reviewed_by) == (Label.DISASTER, admin_user)
    assert closest.reviewed_at is not None
    entry = LogEntry.objects.get()
    assert entry.get_change_message() == "True label: not reviewed → Disaster (review queue)."

    page = admin_client.get(QUEUE)
    assert current(page) == queue["second"]
    assert "marked “Disaster”" in page.content.decode()

    decide(admin_client, queue["second"], "not_disaster")
    assert Prediction.objects.get(pk=queue["second"].pk).true_label == Label.NOT_DISASTER
    assert current(admin_client.get(QUEUE)) == queue["third"]


def test_skip_does_not_show_the_same_tweet_again_in_the_session(admin_client, queue):
    decide(admin_client, queue["closest"], "skip")
    assert Prediction.objects.get(pk=queue["closest"].pk).true_label is None
    page = admin_client.get(QUEUE)
    assert current(page) == queue["second"]
    assert "1 skipped in this session" in page.content.decode()
    decide(admin_client, queue["second"], "skip")
    decide(admin_client, queue["third"], "skip")
    decide(admin_client, queue["far"], "skip")
    page = admin_client.get(QUEUE)
    assert current(page) is None
    assert "Nothing left to review" in page.content.decode()
    assert "Show the 4 skipped again" in page.content.decode()
    assert not LogEntry.objects.exists()

    admin_client.post(QUEUE, {"decision": "restart"})
    assert current(admin_client.get(QUEUE)) == queue["closest"]


def test_skips_are_per_session(admin_user, queue):
    first, second = Client(), Client()
    first.force_login(admin_user)
    second.force_login(admin_user)
    decide(first, queue["closest"], "skip")
    assert current(first.get(QUEUE)) == queue["second"]
    assert current(second.get(QUEUE)) == queue["closest"]


def test_the_skip_list_is_bounded(admin_client, queue, monkeypatch):
    monkeypatch.setattr(admin_views, "SKIPPED_MAX", 2)
    for name in ("closest", "second", "third"):
        decide(admin_client, queue[name], "skip")
    assert admin_client.session[admin_views.SKIPPED_SESSION_KEY] == [
        queue["second"].pk,
        queue["third"].pk,
    ]


def test_progress_numbers(admin_client, admin_user, reviewer, make_prediction):
    now = timezone.now()
    for _ in range(3):
        make_prediction(true_label=Label.DISASTER, reviewed_by=admin_user, reviewed_at=now)
    make_prediction(true_label=Label.DISASTER, reviewed_by=reviewer, reviewed_at=now)
    make_prediction(
        true_label=Label.DISASTER, reviewed_by=admin_user, reviewed_at=now - timedelta(days=2)
    )
    for _ in range(1204):
        make_prediction()
    progress = admin_client.get(QUEUE).content.decode()
    text = " ".join(progress.split())
    assert "<strong>4</strong> reviewed today (3 by you), <strong>1,204</strong> unreviewed" in text


def test_a_label_given_meanwhile_is_not_overwritten(admin_client, reviewer, queue):
    target = queue["closest"]
    Prediction.objects.filter(pk=target.pk).update(
        true_label=Label.NOT_DISASTER, reviewed_by=reviewer, reviewed_at=timezone.now()
    )
    decide(admin_client, target, "disaster")
    target.refresh_from_db()
    assert (target.true_label, target.reviewed_by) == (Label.NOT_DISASTER, reviewer)
    assert "was already reviewed" in admin_client.get(QUEUE).content.decode()
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(
    "data",
    [{"decision": "maybe", "prediction": "1"}, {"decision": "disaster"}, {"prediction": "x"}],
)
def test_a_bad_decision_changes_nothing(admin_client, queue, data):
    response = admin_client.post(QUEUE, data)
    assert response.status_code == 302
    assert "not understood" in admin_client.get(QUEUE).content.decode()
    assert Prediction.objects.filter(true_label__isnull=False).count() == 1


def test_the_queue_needs_a_csrf_token(admin_user, queue):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(QUEUE, {"prediction": queue["closest"].pk, "decision": "disaster"})
    assert response.status_code == 403
    assert Prediction.objects.get(pk=queue["closest"].pk).true_label is None


def test_reviewer_works_the_queue(reviewer_client, reviewer, queue):
    assert reviewer_client.get(QUEUE).status_code == 200
    decide(reviewer_client, queue["closest"], "not_disaster")
    assert Prediction.objects.get(pk=queue["closest"].pk).reviewed_by == reviewer


def test_outsiders_are_kept_out_of_the_queue(client, plain_client, queue):
    response = plain_client.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    decide(plain_client, queue["closest"], "disaster")
    assert Prediction.objects.get(pk=queue["closest"].pk).true_label is None


def test_anonymous_is_sent_to_login(client):
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_change_permission_is_forbidden(staff_client, queue):
    assert staff_client.get(QUEUE).status_code == 403
    assert decide(staff_client, queue["closest"], "disaster").status_code == 403


def test_the_queue_page_has_no_inline_code_and_loads_the_shortcut_script(admin_client, queue):
    html = admin_client.get(QUEUE).content.decode()
    assert_no_inline_code(html)
    assert re.search(r'<script src="[^"]*js/review-queue\.js" defer>', html)


def test_the_shortcut_script_is_served(admin_client, settings):
    path = finders.find("js/review-queue.js")
    assert path is not None
    source = Path(path).read_text(encoding="utf-8")
    assert "data-shortcut" in source and "keydown" in source
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    response = Client().get("/static/js/review-queue.js")
    assert response.status_code == 200
    assert b"data-shortcut" in b"".join(response.streaming_content)


# --- the dashboard ----------------------------------------------------------------------------


@pytest.fixture
def history(make_prediction, make_version, admin_user):
    """v1: 4 predictions (3 reviewed: one true positive, one false positive, one false negative);
    v2: 2 predictions, one reviewed true negative; one v1 prediction from long ago."""
    v1 = make_version("v1", artifact=False)
    v2 = make_version("v2", artifact=False)
    now = timezone.now()
    reviewed = {"reviewed_by": admin_user, "reviewed_at": now}
    make_prediction(probability=0.9, version=v1, true_label=Label.DISASTER, **reviewed)
    make_prediction(probability=0.7, version=v1, true_label=Label.NOT_DISASTER, **reviewed)
    make_prediction(probability=0.2, version=v1, true_label=Label.DISASTER, **reviewed)
    make_prediction(probability=0.95, version=v1, created=now - timedelta(days=1))
    make_prediction(probability=0.05, version=v2, true_label=Label.NOT_DISASTER, **reviewed)
    make_prediction(probability=0.55, version=v2)
    make_prediction(probability=0.99, version=v1, created=now - timedelta(days=200))
    return v1, v2


def test_dashboard_shows_the_numbers_and_the_chart_data(admin_client, history):
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    totals = response.context["totals"]
    assert (totals.predictions, totals.disaster, totals.reviewed) == (6, 4, 4)
    assert "<dt>Predictions</dt><dd>6</dd>" in html
    assert "<dt>Called disaster</dt><dd>66.7%</dd>" in html
    assert "<dt>Precision</dt><dd>50.0%</dd>" in html
    assert "<dt>Recall</dt><dd>50.0%</dd>" in html

    data = json.loads(
        re.search(
            r'<script id="dashboard-data" type="application/json">(.*?)</script>', html
        ).group(1)
    )
    assert data["versions"]["names"] == ["v2", "v1"]
    assert data["versions"]["precision"] == [None, 0.5]
    assert data["versions"]["recall"] == [None, 0.5]
    assert data["versions"]["agreement"] == [1.0, pytest.approx(1 / 3)]
    assert len(data["daily"]["days"]) == 30
    assert sum(data["daily"]["disaster"]) + sum(data["daily"]["not_disaster"]) == 6
    assert data["daily"]["disaster"][-2:] == [1, 3]
    assert sum(data["histogram"]["counts"]) == 6
    assert data["histogram"]["counts"][9] == 2
    # The same numbers as tables, for screen readers.
    assert "<caption>Per model version, predictions made in the period</caption>" in html
    assert '<th scope="row">v1</th> <td>4</td><td>75.0%</td>' in html
    assert "<caption>Predictions per day</caption>" in html
    assert "<caption>Predictions per probability range</caption>" in html


def test_dashboard_period(admin_client, history):
    year = admin_client.get(DASHBOARD, {"days": "365"})
    assert year.context["totals"].predictions == 7
    assert len(year.context["daily"]) == 365
    odd = admin_client.get(DASHBOARD, {"days": "12"})
    assert odd.context["days"] == 30


def test_dashboard_on_an_empty_database(admin_client):
    response = admin_client.get(DASHBOARD)
    assert response.status_code == 200
    assert "No predictions in this period." in response.content.decode()


def test_dashboard_uses_the_vendored_chart_library_without_inline_code(admin_client, history):
    html = admin_client.get(DASHBOARD).content.decode()
    assert_no_inline_code(html)
    assert re.search(r'<script src="[^"]*vendor/chartjs/chart\.umd\.min\.js" defer>', html)
    assert re.search(r'<script src="[^"]*js/dashboard\.js" defer>', html)
    assert "cdn" not in html.lower()
    library = finders.find("vendor/chartjs/chart.umd.min.js")
    with open(library, encoding="utf-8") as file:
        head = file.read(200)
    assert "Chart.js v4." in head and "MIT" in head
    assert finders.find("js/dashboard.js")


def test_dashboard_queries_do_not_grow_with_rows(
    admin_client, history, make_prediction, django_assert_max_num_queries
):
    admin_client.get(DASHBOARD)
    # 10, and 3 of double review: its counts, the pairs' reviews, the current evaluation set.
    with django_assert_max_num_queries(13):
        admin_client.get(DASHBOARD)
    for _ in range(50):
        make_prediction(probability=0.3)
    with django_assert_max_num_queries(13):
        admin_client.get(DASHBOARD)


def dashboard_data(html: str) -> dict:
    return json.loads(
        re.search(
            r'<script id="dashboard-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )


def test_dashboard_live_accuracy_from_the_audit_sample(admin_client, make_prediction, admin_user):
    reviewed = {"reviewed_by": admin_user, "reviewed_at": timezone.now(), "is_audit": True}
    for probability, truth in [(0.9, "disaster"), (0.8, "disaster"), (0.1, "not_disaster")]:
        make_prediction(probability=probability, true_label=truth, **reviewed)
    make_prediction(probability=0.9, true_label=Label.NOT_DISASTER, **reviewed)  # the model erred
    make_prediction(probability=0.9, true_label=Label.DISASTER, reviewed_by=admin_user)  # no audit
    make_prediction(
        probability=0.9,
        true_label=Label.NOT_DISASTER,
        created=timezone.now() - timedelta(days=100),
        **reviewed,
    )  # before the period
    response = admin_client.get(DASHBOARD)
    audit = response.context["audit"]
    assert (audit.reviewed, audit.agreed) == (4, 3)
    low, high = audit.interval
    html = " ".join(response.content.decode().split())
    assert "<dt>Audit sample</dt> <dd>75.0%</dd>" in html
    assert f"95% interval {low:.1%} to {high:.1%}, from 4 audit reviews" in html


def test_dashboard_live_accuracy_without_audit_reviews(admin_client, make_version):
    make_version(
        "v1",
        artifact=False,
        is_active=True,
        evaluation={"set": "ab" * 32, "n": 1523, "f1": 0.7712, "accuracy": 0.8123},
    )
    html = " ".join(admin_client.get(DASHBOARD).content.decode().split())
    assert "Not enough audit reviews yet" in html
    assert "<dt>v1 on the evaluation set</dt> <dd>81.2%</dd>" in html
    assert "accuracy; F1 0.771, on 1,523 rows (set abababababab)" in html


def test_dashboard_without_an_active_version(admin_client):
    assert "No version is active" in admin_client.get(DASHBOARD).content.decode()


def test_dashboard_marks_the_activations_of_the_period(admin_client, admin_user, make_version):
    from predictor import services

    v1 = make_version("v1")
    v2 = make_version("v2", activate=False)
    services.model_version_activate(version=v2, user=admin_user, via="admin", reason="promote: ok")
    response = admin_client.get(DASHBOARD)
    html = " ".join(response.content.decode().split())
    today = timezone.localdate().isoformat()
    assert dashboard_data(html)["activations"] == [
        {"day": today, "version": "v1", "reason": ""},
        {"day": today, "version": "v2", "reason": "promote: ok"},
    ]
    table = html[html.index('<table class="dashboard-table" id="activations">') :]
    table = table[: table.index("</table>")]
    assert f"<td>v2</td> <td>{v1.name}</td> <td>{admin_user.username} (admin)</td>" in table
    assert '<td class="activation-reason">promote: ok</td>' in table
    assert "<td>v1</td> <td>-</td> <td>test</td>" in table


def test_dashboard_without_activations_in_the_period(admin_client, history):
    html = admin_client.get(DASHBOARD).content.decode()
    assert "No activations in this period." in html
    assert dashboard_data(html)["activations"] == []


def test_reviewer_sees_the_dashboard(reviewer_client, history):
    assert reviewer_client.get(DASHBOARD).status_code == 200


def test_outsiders_are_kept_out_of_the_dashboard(plain_client):
    response = plain_client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_view_permission_cannot_see_the_dashboard(staff_client):
    assert staff_client.get(DASHBOARD).status_code == 403


# --- explanations and blind first ---------------------------------------------------------------


@pytest.fixture
def explained_queue(active_version, make_prediction):
    """Two unreviewed predictions of the active (loadable) version."""
    threshold = active_version.threshold  # the first is the more uncertain one
    return {
        "first": make_prediction("Forest fire near La Ronge", probability=threshold + 0.01),
        "second": make_prediction("Flooding downtown after the storm", probability=threshold / 2),
    }


def test_the_queue_shows_why_the_model_said_it(reviewer_client, explained_queue):
    page = reviewer_client.get(QUEUE)

    html = page.content.decode()
    assert current(page) == explained_queue["first"]
    assert page.context["explanation"] is not None
    assert '<mark class="why' in html and 'class="why-terms"' in html
    assert 'name="blind_first" value="on"' in html


def test_blind_first_hides_the_reasons_until_the_answer(reviewer_client, reviewer, explained_queue):
    reviewer_client.post(QUEUE, {"blind_first": "on"})
    assert selectors.reviewer_blind_first(user=reviewer) is True

    page = reviewer_client.get(QUEUE)
    html = page.content.decode()
    assert page.context["explanation"] is None
    assert "<mark" not in html and "why-terms" not in html
    assert "Disaster" in html  # the model's verdict is still shown, as before
    assert 'name="blind_first" value="off"' in html

    first = explained_queue["first"]
    decide(reviewer_client, first, Label.NOT_DISASTER)
    after = reviewer_client.get(QUEUE)
    html = after.content.decode()
    assert after.context["answered"] == first
    assert f"Why the model said “{first.get_predicted_label_display()}” for #{first.pk}" in html
    assert '<mark class="why' in html  # the answered one's words, not the next one's
    assert after.context["explanation"] is None
    # Shown once: the next page is blind again.
    again = reviewer_client.get(QUEUE)
    assert again.context["answered"] is None and "<mark" not in again.content.decode()


def test_blind_first_can_be_turned_off_again(reviewer_client, reviewer, explained_queue):
    reviewer_client.post(QUEUE, {"blind_first": "on"})
    reviewer_client.post(QUEUE, {"blind_first": "off"})

    assert selectors.reviewer_blind_first(user=reviewer) is False
    assert reviewer_client.get(QUEUE).context["explanation"] is not None


def test_a_bad_preference_changes_nothing(reviewer_client, reviewer, explained_queue):
    reviewer_client.post(QUEUE, {"blind_first": "maybe"})

    assert selectors.reviewer_blind_first(user=reviewer) is False
    assert "not understood" in reviewer_client.get(QUEUE).content.decode()


def test_the_preference_is_per_reviewer(reviewer_client, admin_client, explained_queue):
    reviewer_client.post(QUEUE, {"blind_first": "on"})

    assert admin_client.get(QUEUE).context["explanation"] is not None


def test_a_version_that_cannot_be_loaded_leaves_the_queue_working(
    reviewer_client, make_version, make_prediction
):
    gone = make_version("v0", artifact=False)
    make_prediction("Forest fire", version=gone)

    page = reviewer_client.get(QUEUE)

    assert page.status_code == 200
    assert "cannot be loaded to explain it" in page.content.decode()


def test_each_review_records_whether_the_reasons_were_shown(
    reviewer_client, reviewer, explained_queue
):
    """What the dashboard splits reviewers' agreement by: shown, or hidden until answered."""
    decide(reviewer_client, explained_queue["first"], Label.DISASTER)
    reviewer_client.post(QUEUE, {"blind_first": "on"})
    decide(reviewer_client, explained_queue["second"], Label.NOT_DISASTER)

    shown = dict(
        Review.objects.filter(reviewer=reviewer).values_list("prediction_id", "explanation_shown")
    )
    assert shown == {explained_queue["first"].pk: True, explained_queue["second"].pk: False}
