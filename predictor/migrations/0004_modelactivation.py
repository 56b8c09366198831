import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def record_current_activation(apps, schema_editor):
    """The version active before this history existed gets its activation on record."""
    ModelVersion = apps.get_model("predictor", "ModelVersion")
    ModelActivation = apps.get_model("predictor", "ModelActivation")
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is not None:
        ModelActivation.objects.create(
            version=active,
            via="before history",
            created=active.activated_at or active.created,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0003_reviewers_group"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ModelActivation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("via", models.CharField(help_text="Where: admin, command, retrain, ...", max_length=32)),
                ("reason", models.TextField(blank=True)),
                ("created", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("previous", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="predictor.modelversion")),
                ("user", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("version", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="activations", to="predictor.modelversion")),
            ],
            options={"ordering": ["-created", "-id"], "get_latest_by": ["created", "id"]},
        ),
        migrations.RunPython(record_current_activation, migrations.RunPython.noop),
    ]
