"""/ws/races/<race id>/: an open race page hears when an entry lands, a racer joins or leaves, or the race
closes. Only those who can see the race may listen (a private race's strangers are refused)."""

from channels.db import database_sync_to_async

from common.consumers import GroupForwardConsumer
from races.models import Race


class RaceConsumer(GroupForwardConsumer):
    async def group_for(self, user) -> str | None:
        return await self._group_of_visible_race(user, self.scope["url_route"]["kwargs"]["race_id"])

    @database_sync_to_async
    def _group_of_visible_race(self, user, race_id) -> str | None:
        race = Race.objects.visible_to(user).filter(pk=race_id).first()
        return race.group if race is not None else None
