from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from relayweb.models import ApiKey, Membership, Role, Team


class Command(BaseCommand):
    help = "Create an API key for a team (creating the team if needed) and print only the key."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team name; created if missing")
        parser.add_argument("--user", help="username; created if missing and made an owner of the team")
        parser.add_argument("--role", default=Role.ADMIN, choices=Role.values, help="the key's role")
        parser.add_argument("--name", default="", help="a label for the key")

    def handle(self, *args, team, user, role, name, **options):
        team_obj, _ = Team.objects.get_or_create(name=team.strip())
        owner = None
        if user:
            owner, created = get_user_model().objects.get_or_create(username=user)
            if created:
                owner.set_unusable_password()
                owner.save()
            Membership.objects.update_or_create(team=team_obj, user=owner, defaults={"role": Role.OWNER})
        if not team_obj.name:
            raise CommandError("--team must not be empty")
        _, raw = ApiKey.issue(team_obj, role, name=name or "created by create_api_key", user=owner)
        self.stdout.write(raw)
