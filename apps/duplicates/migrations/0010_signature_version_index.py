from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("duplicates", "0009_similar_threshold"),
    ]

    operations = [
        migrations.AlterField(
            model_name="signature",
            name="version",
            field=models.PositiveSmallIntegerField(db_index=True),
        ),
    ]
