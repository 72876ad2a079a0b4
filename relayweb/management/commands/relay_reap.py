"""`manage.py relay_reap`: run the reaper once now (it also runs every minute on the ingest cluster)."""

from django.core.management.base import BaseCommand

from relayweb import jobs


class Command(BaseCommand):
    help = "Requeue or fail work whose worker died, expire unused upload URLs, remove stale temp files."

    def handle(self, *args, **options):
        for name, count in jobs.reap().items():
            self.stdout.write(f"{name}: {count}")
