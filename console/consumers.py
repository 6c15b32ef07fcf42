from common.broadcast import user_group
from common.consumers import GroupForwardConsumer


class NotificationConsumer(GroupForwardConsumer):
    """/ws/notifications/: everything published to the signed-in user's own group `user.<id>`."""

    async def group_for(self, user) -> str | None:
        return user_group(user.pk)
