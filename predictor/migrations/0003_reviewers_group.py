"""The "Reviewers" group: staff who view and relabel predictions and view model versions, but
cannot activate models or manage users."""

from django.db import migrations

GROUP = "Reviewers"
PERMISSIONS = [
    ("predictor", "prediction", "view_prediction"),
    ("predictor", "prediction", "change_prediction"),
    ("predictor", "modelversion", "view_modelversion"),
]


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    # Permissions are normally created after `migrate` finishes (post_migrate); on a fresh
    # database they do not exist yet, so create this app's now.
    app_config = apps.get_app_config("predictor")
    app_config.models_module = True
    create_contenttypes(app_config, apps=apps, using=schema_editor.connection.alias, verbosity=0)
    create_permissions(app_config, apps=apps, using=schema_editor.connection.alias, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, model, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(
                content_type__app_label=app_label, content_type__model=model, codename=codename
            )
        )


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("predictor", "0002_model_artifact"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
