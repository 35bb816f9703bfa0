"""Load the built-in standards library (data/standards.json) and the pollutant catalogue."""

from django.db import migrations


def load(apps, schema_editor):
    from civicloop.environment.standards import load_library

    load_library(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("environment", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
