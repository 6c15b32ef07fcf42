"""The base websocket consumer: every stream is one group the consumer joins after an access check."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

# Close code for a socket opened without a signed-in user (4000-4999 are free for applications).
CLOSE_UNAUTHENTICATED = 4401


class GroupForwardConsumer(AsyncJsonWebsocketConsumer):
    """Join one group after checking access, then only forward what common.broadcast.publish sends.

    Subclasses name the group for the connecting user (or None to refuse); the access check belongs there.
    """

    group: str | None = None

    async def group_for(self, user) -> str | None:
        raise NotImplementedError

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = await self.group_for(user)
        if self.group is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def broadcast(self, event):
        await self.send_json({"event": event["event"], "payload": event["payload"]})
