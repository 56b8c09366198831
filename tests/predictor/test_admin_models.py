"""The model versions' admin pages: evaluation figures in the list, the gate report on a version's
page, compare and promote (with the confirmation when the gate refuses), rollback, and the
shadow replay (sending its flips to the review queue)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape

from ml.data import read_csv
from ml.gate import compare
from predictor import services
from predictor.models import Label, ModelActivation, ModelVersion, Prediction
from predictor.tweets import Tweet

pytestmark = pytest.mark.django_db

VERSIONS = reverse("admin:predictor_modelversion_changelist")
ROLLBACK = reverse("admin:predictor_modelversion_rollback")


def compare_url(version: ModelVersion) -> str:
    return reverse("admin:predictor_modelversion_compare", args=[version.pk])


def change_url(version: ModelVersion) -> str:
    return reverse("admin:predictor_modelversion_change", args=[version.pk])


def text(response) -> str:
    """The page's HTML with runs of white space as one space."""
    return " ".join(response.content.decode().split())


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def evaluation_set():
    """The sample data's evaluation set (fewer than 300 rows: the gate always refuses on it)."""
    evaluation, _ = services.evaluation_set_for(read_csv(settings.SAMPLE_TRAIN_DATA))
    return services.evaluation_set_store(evaluation=evaluation, training_data="sample_tweets.csv")


@pytest.fixture
def candidate(make_version, evaluation_set):
    """v1 active, v2 stored beside it (both the sample model), and an evaluation set."""
    v1 = make_version("v1")
    v2 = make_version("v2", activate=False)
    return v1, v2


@pytest.fixture
def operator_client(client, django_user_model):
    """Staff who may view and activate model versions, nothing else."""
    user = django_user_model.objects.create_user("ops", password="ops-pass-123", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_modelversion"),
        Permission.objects.get(codename="activate_modelversion"),
    )
    client.force_login(user)
    return client


def a_promoting_comparison():
    """A real gate comparison that says promote: 400 rows, the candidate right on 60 more."""
    y = np.array([1, 0] * 200)
    candidate = np.where(y == 1, 0.9, 0.1)
    active = candidate.copy()
    active[:60] = 1 - active[:60]
    comparison = compare(y, candidate, active, candidate_threshold=0.5, active_threshold=0.5)
    assert comparison.promote
    return comparison


# --- the list and a version's page -------------------------------------------------------------


def test_the_list_shows_evaluation_figures_beside_the_out_of_fold_ones(
    admin_client, make_version, evaluation_set
):
    figures = {"set": evaluation_set.identifier, "n": 41, "f1": 0.7712, "precision": 0.8123}
    make_version("v1", artifact=False, evaluation={**figures, "recall": 0.7341})
    make_version("v2", artifact=False, evaluation=None)
    response = admin_client.get(VERSIONS)
    html = text(response)
    cells = {
        version: re.findall(r'<td class="field-eval_\w+">(.*?)</td>', row)
        for version, row in re.findall(
            r'<a href="[^"]*/(\d+)/change/">v\d</a></th>(.*?)</tr>', html
        )
    }
    rows = list(cells.values())
    assert ["0.771", "0.812", "0.734", evaluation_set.identifier[:12]] in rows
    assert ["-", "-", "-", "-"] in rows
    for header in ("Eval F1", "Eval precision", "Eval recall", "Eval set", "OOF F1"):
        assert header in html
    assert f"evaluation set <strong>{evaluation_set.identifier[:12]}</strong>" in html


def test_the_list_links_each_version_to_its_checks(admin_client, candidate):
    v1, v2 = candidate
    html = admin_client.get(VERSIONS).content.decode()
    assert f'href="{compare_url(v2)}">Compare</a>' in html
    assert compare_url(v1) not in html  # the active version has nothing to compare with
    for version in (v1, v2):
        assert reverse("admin:predictor_modelversion_replay", args=[version.pk]) in html


def test_a_versions_page_shows_its_gate_report_and_evaluation_figures(admin_client, make_version):
    make_version("v1")
    v2 = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    html = text(admin_client.get(change_url(v2)))
    comparison = v2.gate["comparison"]
    assert '<dt>Decision</dt><dd class="gate-verdict">refused (not activated)</dd>' in html
    assert "<dt>Compared with</dt><dd>v1</dd>" in html
    assert escape(v2.gate["reason"]) in html
    assert f"{comparison['delta_f1']:+.3f} (95% interval {comparison['delta_f1_low']:+.3f}" in html
    assert f"<dt>McNemar p</dt><dd>{comparison['mcnemar_p']:.3g}</dd>" in html
    assert f"{comparison['candidate_only_correct']} right only with v2" in html
    assert f"<dt>F1</dt><dd>{v2.evaluation['f1']:.3f}</dd>" in html
    assert '"decision":' not in html  # readable, not the raw JSON
    assert f'href="{compare_url(v2)}">Compare with the active version' in html


def test_a_version_without_gate_report_or_figures_says_so(admin_client, make_version):
    v1 = make_version("v1", artifact=False)
    html = text(admin_client.get(change_url(v1)))
    assert "No gate report" in html
    assert "Not scored on the evaluation set" in html


# --- compare and promote -------------------------------------------------------------------------


def test_compare_shows_the_gates_paired_comparison(admin_client, candidate, evaluation_set):
    _v1, v2 = candidate
    response = admin_client.get(compare_url(v2))
    assert response.status_code == 200
    comparison = response.context["comparison"]
    assert comparison.n == evaluation_set.size
    html = text(response)
    assert '<th scope="col">v2 (candidate)</th><th scope="col">v1 (active)</th>' in html
    f1 = f"{comparison.candidate.f1:.3f}"
    assert f'<th scope="row">F1</th><td>{f1}</td><td>{f1}</td>' in html
    assert "+0.000 (95% interval +0.000 to +0.000)" in html  # the same model twice
    assert "0 right only with v2, 0 right only with v1" in html
    assert "<dt>McNemar p</dt><dd>1</dd>" in html
    assert "gate-refuse" in html and "too few evaluation rows" in html
    assert 'name="promote"' in html and "Promote v2</button>" in html


def test_a_refused_promotion_asks_for_a_reason_then_forces(admin_client, admin_user, candidate):
    v1, v2 = candidate
    refused = admin_client.post(compare_url(v2), {"promote": "1"})
    assert refused.status_code == 200
    assert ModelVersion.objects.get(is_active=True) == v1
    (message,) = messages_of(refused)
    assert message.startswith("The gate refused v2: too few evaluation rows")
    html = text(refused)
    assert "Promote v2 although the gate refused it?" in html
    assert 'name="reason"' in html and "Promote v2 anyway</button>" in html
    assert f'name="active" value="{v1.pk}"' in html

    empty = admin_client.post(compare_url(v2), {"force": "1", "active": v1.pk, "reason": "  "})
    assert empty.status_code == 200
    assert "This field is required." in empty.content.decode()
    assert ModelVersion.objects.get(is_active=True) == v1

    forced = admin_client.post(
        compare_url(v2), {"force": "1", "active": v1.pk, "reason": "fixes the flood tweets"}
    )
    assert forced.status_code == 302 and forced["Location"] == VERSIONS
    assert ModelVersion.objects.get(is_active=True) == v2
    activation = ModelActivation.objects.latest()
    assert (activation.version, activation.previous, activation.user) == (v2, v1, admin_user)
    assert activation.via == "admin"
    assert activation.reason.startswith("forced: fixes the flood tweets (the gate said: refuse")
    page = admin_client.get(forced["Location"])
    assert "Promoted v2 (was v1), forced: fixes the flood tweets" in messages_of(page)


def test_a_forced_promotion_against_a_changed_active_version_asks_again(
    admin_client, make_version, candidate
):
    v1, v2 = candidate
    v3 = make_version("v3")  # activated meanwhile
    response = admin_client.post(compare_url(v2), {"force": "1", "active": v1.pk, "reason": "ok"})
    assert response.status_code == 200
    assert ModelVersion.objects.get(is_active=True) == v3
    assert messages_of(response)[0].startswith("The active version changed meanwhile (now v3)")
    assert f'name="active" value="{v3.pk}"' in response.content.decode()


def test_the_gate_promotes_without_asking(admin_client, candidate, monkeypatch):
    _v1, v2 = candidate
    comparison = a_promoting_comparison()
    monkeypatch.setattr(services, "model_version_compare", lambda **_: comparison)
    response = admin_client.post(compare_url(v2), {"promote": "1"}, follow=True)
    assert ModelVersion.objects.get(is_active=True) == v2
    assert ModelActivation.objects.latest().reason == comparison.reason
    assert messages_of(response) == [f"Promoted v2 (was v1): {comparison.reason}."]


def test_with_no_active_version_promoting_activates(admin_client, make_version, evaluation_set):
    v1 = make_version("v1", activate=False)
    page = admin_client.get(compare_url(v1))
    assert page.status_code == 200
    assert "No version is active" in page.content.decode()
    response = admin_client.post(compare_url(v1), {"promote": "1"}, follow=True)
    assert ModelVersion.objects.get(is_active=True) == v1
    assert messages_of(response) == ["Promoted v1 (no version was active)."]


def test_comparing_the_active_version_says_there_is_nothing_to_compare(admin_client, candidate):
    v1, _ = candidate
    response = admin_client.get(compare_url(v1), follow=True)
    assert response.redirect_chain == [(change_url(v1), 302)]
    assert messages_of(response) == ["Nothing to compare: v1 is the active version."]


def test_promoting_the_active_version_changes_nothing(admin_client, candidate):
    v1, _ = candidate
    response = admin_client.post(compare_url(v1), {"promote": "1"}, follow=True)
    assert messages_of(response) == ["Nothing to do: v1 is already the active version."]
    assert ModelActivation.objects.count() == 1


def test_a_missing_artifact_is_an_error_message_not_a_500(admin_client, make_version, candidate):
    broken = make_version("v9", artifact=False)
    for response in (
        admin_client.get(compare_url(broken), follow=True),
        admin_client.post(compare_url(broken), {"promote": "1"}, follow=True),
    ):
        assert response.redirect_chain == [(change_url(broken), 302)]
        (message,) = messages_of(response)
        assert message.startswith("Could not compare v9 with v1: artifact of v9 is missing")
    assert ModelVersion.objects.get(is_active=True).name == "v1"


def test_without_an_evaluation_set_compare_is_an_error_message(admin_client, make_version):
    make_version("v1")
    v2 = make_version("v2", activate=False)
    response = admin_client.get(compare_url(v2), follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [
        "Could not compare v2 with v1: there is no evaluation set yet: train a version first"
    ]


def test_an_unknown_version_is_a_404(admin_client):
    assert admin_client.get("/admin/predictor/modelversion/999999/compare/").status_code == 404
    assert admin_client.get("/admin/predictor/modelversion/nope/compare/").status_code == 404


def test_a_reviewer_sees_the_comparison_but_cannot_promote(reviewer_client, candidate):
    v1, v2 = candidate
    page = reviewer_client.get(compare_url(v2))
    assert page.status_code == 200
    assert 'name="promote"' not in page.content.decode()
    assert reviewer_client.post(compare_url(v2), {"promote": "1"}).status_code == 403
    forced = reviewer_client.post(compare_url(v2), {"force": "1", "active": v1.pk, "reason": "x"})
    assert forced.status_code == 403
    assert ModelVersion.objects.get(is_active=True) == v1


def test_an_operator_with_the_activate_permission_promotes(operator_client, candidate):
    v1, v2 = candidate
    operator_client.post(compare_url(v2), {"force": "1", "active": v1.pk, "reason": "hotfix"})
    assert ModelVersion.objects.get(is_active=True) == v2


def test_staff_without_permissions_cannot_compare(staff_client, candidate):
    _, v2 = candidate
    assert staff_client.get(compare_url(v2)).status_code == 403
    assert staff_client.post(ROLLBACK).status_code == 403


def test_a_plain_user_is_sent_to_the_login_page(plain_client, candidate):
    _, v2 = candidate
    response = plain_client.get(compare_url(v2))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- roll back -----------------------------------------------------------------------------------


def test_roll_back_to_the_previous_version(admin_client, admin_user, make_version):
    v1 = make_version("v1")
    make_version("v2")
    page = admin_client.get(VERSIONS).content.decode()
    assert f'action="{ROLLBACK}"' in page and "Roll back to the previous version (v1)" in page

    response = admin_client.post(ROLLBACK, follow=True)
    assert response.redirect_chain == [(VERSIONS, 302)]
    assert messages_of(response) == ["Rolled back from v2 to v1."]
    assert ModelVersion.objects.get(is_active=True) == v1
    activation = ModelActivation.objects.latest()
    assert (activation.user, activation.via, activation.reason) == (admin_user, "admin", "rollback")


def test_roll_back_with_nothing_to_go_back_to(admin_client, make_version):
    v1 = make_version("v1")
    response = admin_client.post(ROLLBACK, follow=True)
    assert messages_of(response) == [
        "Nothing to roll back to: there is no earlier version to roll back to."
    ]
    assert ModelVersion.objects.get(is_active=True) == v1


def test_roll_back_is_a_post(admin_client, make_version):
    make_version("v1")
    make_version("v2")
    assert admin_client.get(ROLLBACK).status_code == 405
    assert ModelVersion.objects.get(is_active=True).name == "v2"


def test_a_reviewer_cannot_roll_back(reviewer_client, make_version):
    make_version("v1")
    make_version("v2")
    assert "Roll back" not in reviewer_client.get(VERSIONS).content.decode()
    assert reviewer_client.post(ROLLBACK).status_code == 403
    assert ModelVersion.objects.get(is_active=True).name == "v2"


def test_an_operator_rolls_back(operator_client, make_version):
    v1 = make_version("v1")
    make_version("v2")
    operator_client.post(ROLLBACK)
    assert ModelVersion.objects.get(is_active=True) == v1


# --- shadow replay -------------------------------------------------------------------------------

REPLAY_TWEETS = [
    "Forest fire near La Ronge Sask. Canada",
    "Evacuation ordered after the flood downtown",
    "I love this new song so much",
    "What a lovely sunny day at the beach",
    "Earthquake shakes the city, buildings collapse",
    "my phone is on fire today lol",
]


def replay_url(version: ModelVersion, **query: object) -> str:
    url = reverse("admin:predictor_modelversion_replay", args=[version.pk])
    return url + "".join(f"?{key}={value}" for key, value in query.items())


@pytest.fixture
def replayed(active_version, make_version, admin_user):
    """Six predictions by v1 (the first reviewed as not a disaster) and v2: the same model with
    a threshold of 0, so it calls every tweet a disaster."""
    predictions = services.prediction_create_batch(tweets=[Tweet(text) for text in REPLAY_TWEETS])
    services.prediction_relabel(
        prediction=predictions[0], true_label=Label.NOT_DISASTER, reviewer=admin_user
    )
    return predictions, make_version("v2", activate=False, threshold=0.0)


def test_replay_shows_the_flip_rate_the_table_and_the_top_flips(admin_client, replayed):
    _, v2 = replayed
    replay = services.prediction_replay(version=v2)
    assert replay.flips  # v2 calls everything a disaster
    response = admin_client.get(replay_url(v2))
    assert response.status_code == 200
    assert response.context["form"].cleaned_data["last"] == 1000
    html = text(response)
    assert f"<dt>Replayed</dt><dd>{replay.n}</dd>" in html
    assert f"<dt>Flips</dt><dd>{replay.flips}</dd>" in html
    assert f"<dt>Flip rate</dt><dd>{replay.flip_rate:.1%}</dd>" in html
    assert f"<dt>Wins</dt><dd>{replay.wins}</dd>" in html
    assert f"<dt>Losses</dt><dd>{replay.losses}</dd>" in html
    table = replay.table
    assert (
        '<tr><th scope="row">Not a disaster</th>'
        f"<td>{table['not_disaster']['disaster']}</td><td>{table['not_disaster']['not_disaster']}</td>"
    ) in html
    for flip in replay.top_flips:
        link = reverse("admin:predictor_prediction_change", args=[flip.prediction_id])
        assert f'<a href="{link}">#{flip.prediction_id}</a>' in html
        assert escape(flip.text) in html
    assert f"Send the {replay.flips} flip{'s' * (replay.flips != 1)} to the review queue" in html


def test_replay_the_last_n(admin_client, replayed):
    _, v2 = replayed
    response = admin_client.get(replay_url(v2, last=2))
    assert response.context["replay"].n == 2
    assert 'value="2"' in response.content.decode()


@pytest.mark.parametrize("last", ["0", "100001", "many"])
def test_replay_refuses_a_bad_count(admin_client, replayed, last):
    _, v2 = replayed
    response = admin_client.get(replay_url(v2, last=last))
    assert response.status_code == 200
    assert response.context["replay"] is None
    assert 'class="errorlist' in response.content.decode()


def test_send_the_flips_to_the_review_queue(admin_client, replayed):
    predictions, v2 = replayed
    replay = services.prediction_replay(version=v2)
    response = admin_client.post(replay_url(v2), {"last": "1000"})
    assert response.status_code == 302 and response["Location"] == replay_url(v2, last=1000)
    requested = set(Prediction.objects.filter(review_requested=True).values_list("pk", flat=True))
    unreviewed_flips = set(replay.flip_ids) - {predictions[0].pk}
    assert requested == unreviewed_flips
    already = len(replay.flip_ids) - len(unreviewed_flips)
    expected = f"{len(unreviewed_flips)} flipped predictions sent to the review queue"
    expected += f"; {already} already reviewed." if already else "."
    assert messages_of(admin_client.get(response["Location"])) == [expected]


def test_the_replay_of_a_missing_artifact_is_an_error_message(admin_client, make_version):
    broken = make_version("v9", artifact=False)
    response = admin_client.get(replay_url(broken), follow=True)
    assert response.redirect_chain == [(change_url(broken), 302)]
    (message,) = messages_of(response)
    assert message.startswith("Could not replay v9: artifact of v9 is missing")


def test_a_reviewer_replays_and_sends_flips(reviewer_client, replayed):
    _, v2 = replayed
    assert reviewer_client.get(replay_url(v2)).status_code == 200
    assert reviewer_client.post(replay_url(v2), {"last": "1000"}).status_code == 302
    assert Prediction.objects.filter(review_requested=True).exists()


def test_who_may_see_the_replay_and_send_flips(client, django_user_model, replayed):
    _, v2 = replayed
    viewer = django_user_model.objects.create_user("vic", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(viewer)
    assert client.get(replay_url(v2)).status_code == 403  # it shows the tweets
    viewer.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    page = client.get(replay_url(v2))
    assert page.status_code == 200
    assert "to the review queue</button>" not in page.content.decode()
    assert client.post(replay_url(v2), {"last": "1000"}).status_code == 403
    assert not Prediction.objects.filter(review_requested=True).exists()
