"""JoinAttempt: an outcome (entered / wrong / right code refused) instead of `success`, the
network a per-address limit counts (IPv6 by /56), and `cleared_at` for the unlock action."""

import ipaddress

from django.db import migrations, models


def forwards(apps, schema_editor):
    JoinAttempt = apps.get_model("rooms", "JoinAttempt")
    for attempt in JoinAttempt.objects.all().iterator():
        address = ipaddress.ip_address(attempt.address)
        if address.version == 6:
            network = str(ipaddress.IPv6Network((int(address) >> 72 << 72, 56)))
        else:
            network = str(address)
        attempt.network = network
        attempt.outcome = "entered" if attempt.success else "wrong"
        attempt.save(update_fields=["network", "outcome"])


def backwards(apps, schema_editor):
    JoinAttempt = apps.get_model("rooms", "JoinAttempt")
    JoinAttempt.objects.exclude(outcome="entered").update(success=False)
    JoinAttempt.objects.filter(outcome="entered").update(success=True)


class Migration(migrations.Migration):

    dependencies = [
        ("rooms", "0005_citizen_journey"),
    ]

    operations = [
        migrations.AddField(
            model_name="joinattempt", name="network", field=models.CharField(default="", max_length=49),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="joinattempt", name="outcome",
            field=models.CharField(
                choices=[("entered", "right code, entered"), ("wrong", "wrong code"),
                         ("refused", "right code, refused by a limit")],
                default="wrong", max_length=8,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="joinattempt", name="cleared_at", field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="joinattempt", name="success", field=models.BooleanField(default=False),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveIndex(model_name="joinattempt", name="rooms_joina_room_id_ff288d_idx"),
        migrations.RemoveField(model_name="joinattempt", name="success"),
        migrations.AddIndex(
            model_name="joinattempt",
            index=models.Index(fields=["room", "network", "at"], name="rooms_joina_room_id_11dabd_idx"),
        ),
        migrations.AddIndex(
            model_name="joinattempt",
            index=models.Index(fields=["room", "at"], name="rooms_joina_room_id_458e36_idx"),
        ),
    ]
