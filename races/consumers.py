"""/ws/races/<race id>/: an open race page hears when an entry lands, a racer joins or leaves, or the race
closes. Only those who can see the race may listen (a private race's strangers are refused).

/ws/races/<race id>/live/ and /ws/races/projector/<token>/: race day's pages (broadcast, control,
projector) hear the race's live group (queue, run finished, winner), its board, and the frames and ticks
of the run or heat on track: the socket follows the current one's job group, switching when one is
launched or ends. The first needs a user who can see the live race, the second its broadcast token.

/ws/races/<race id>/heats/<heat id>/: a head-to-model heat's page hears the heat's group (started,
finished) and, while it races, its heat job's frames and ticks (both cars). Only those who can see the race.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from common.consumers import CLOSE_UNAUTHENTICATED, GroupForwardConsumer
from races.models import Heat, HeatStatus, Race, Submission, SubmissionStatus

# Live events after which the run on track may have changed.
RUN_CHANGES = ("queue", "run_finished", "finished")


class RaceConsumer(GroupForwardConsumer):
    async def group_for(self, user) -> str | None:
        return await self._group_of_visible_race(user, self.scope["url_route"]["kwargs"]["race_id"])

    @database_sync_to_async
    def _group_of_visible_race(self, user, race_id) -> str | None:
        race = Race.objects.visible_to(user).filter(pk=race_id).first()
        return race.group if race is not None else None


class FollowingConsumer(AsyncJsonWebsocketConsumer):
    """Joins fixed groups after an access check, and one job's group that changes over time (the run or heat
    on track): `_job_group` names it, read again before forwarding the events in FOLLOW_ON."""

    FOLLOW_ON: tuple = ()
    groups_joined: tuple = ()
    run_group: str | None = None

    async def join(self, *groups):
        self.groups_joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        # Join the job on track before accepting: once the socket is open, it hears that job's frames.
        await self._follow_run()
        await self.accept()

    async def _job_group(self) -> str | None:
        raise NotImplementedError

    async def _follow_run(self):
        group = await self._job_group()
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
        # Follow the new job before the page hears of it: what it hears next is the new job's stream.
        if event["event"] in self.FOLLOW_ON:
            await self._follow_run()
        await self.send_json({"event": event["event"], "payload": event["payload"]})


class LiveRaceConsumer(FollowingConsumer):
    FOLLOW_ON = RUN_CHANGES
    race_id = None

    async def connect(self):
        race = await self._race()
        if race is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.race_id = race.pk
        await self.join(race.live_group, race.group)

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
    def _job_group(self) -> str | None:
        run = (Submission.objects.filter(race_id=self.race_id, status=SubmissionStatus.RUNNING,
                                         evaluation__isnull=False).select_related("evaluation").first())
        if run is not None:
            return run.evaluation.group
        heat = (Heat.objects.filter(race_id=self.race_id, status=HeatStatus.RUNNING, job__isnull=False)
                .select_related("job").order_by("number").first())
        return heat.job.group if heat is not None else None


class HeatConsumer(FollowingConsumer):
    FOLLOW_ON = ("heat",)
    heat_id = None

    async def connect(self):
        user = self.scope.get("user")
        heat = await self._heat(user) if user is not None and user.is_authenticated else None
        if heat is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.heat_id = heat.pk
        await self.join(heat.group)

    @database_sync_to_async
    def _heat(self, user) -> Heat | None:
        kwargs = self.scope["url_route"]["kwargs"]
        return Heat.objects.filter(race__in=Race.objects.visible_to(user), race_id=kwargs["race_id"],
                                   pk=kwargs["heat_id"]).first()

    @database_sync_to_async
    def _job_group(self) -> str | None:
        heat = Heat.objects.select_related("job").filter(pk=self.heat_id).first()
        return heat.job.group if heat is not None and heat.job is not None else None
