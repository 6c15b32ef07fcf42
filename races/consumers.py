"""/ws/races/<race id>/: an open race page hears when an entry lands, a racer joins or leaves, or the race
closes. Only those who can see the race may listen (a private race's strangers are refused).

/ws/races/<race id>/live/ and /ws/races/projector/<token>/: race day's pages (broadcast, control,
projector) hear the race's live group (queue, run finished, winner), its board, and the frames and ticks
of the run on track: the socket follows the current run's evaluation group, switching when a run is
launched or ends. The first needs a user who can see the live race, the second its broadcast token.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from common.consumers import CLOSE_UNAUTHENTICATED, GroupForwardConsumer
from races.models import Race, Submission, SubmissionStatus

# Live events after which the run on track may have changed.
RUN_CHANGES = ("queue", "run_finished", "finished")


class RaceConsumer(GroupForwardConsumer):
    async def group_for(self, user) -> str | None:
        return await self._group_of_visible_race(user, self.scope["url_route"]["kwargs"]["race_id"])

    @database_sync_to_async
    def _group_of_visible_race(self, user, race_id) -> str | None:
        race = Race.objects.visible_to(user).filter(pk=race_id).first()
        return race.group if race is not None else None


class LiveRaceConsumer(AsyncJsonWebsocketConsumer):
    race_id = None
    groups_joined: tuple = ()
    run_group: str | None = None

    async def connect(self):
        race = await self._race()
        if race is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.race_id = race.pk
        self.groups_joined = (race.live_group, race.group)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        # Join the run on track before accepting: once the socket is open, it hears that run's frames.
        await self._follow_run()
        await self.accept()

    @database_sync_to_async
    def _race(self) -> Race | None:
        kwargs = self.scope["url_route"]["kwargs"]
        if "token" in kwargs:
            return Race.objects.filter(broadcast_token=kwargs["token"], is_live=True).first()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None
        return Race.objects.visible_to(user).filter(pk=kwargs["race_id"], is_live=True).first()

    @database_sync_to_async
    def _current_run_group(self) -> str | None:
        run = (Submission.objects.filter(race_id=self.race_id, status=SubmissionStatus.RUNNING,
                                         evaluation__isnull=False).select_related("evaluation").first())
        return run.evaluation.group if run is not None else None

    async def _follow_run(self):
        group = await self._current_run_group()
        if group == self.run_group:
            return
        if self.run_group is not None:
            await self.channel_layer.group_discard(self.run_group, self.channel_name)
        if group is not None:
            await self.channel_layer.group_add(group, self.channel_name)
        self.run_group = group

    async def disconnect(self, code):
        for group in (*self.groups_joined, self.run_group):
            if group is not None:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def broadcast(self, event):
        # Follow the new run before the page hears of it: what it hears next is the new run's stream.
        if event["event"] in RUN_CHANGES:
            await self._follow_run()
        await self.send_json({"event": event["event"], "payload": event["payload"]})
