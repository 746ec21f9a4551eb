"""Users, sessions (refresh-token families) and login buckets on DynamoDB."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model

from tradestream.adapters.dynamodb.base import bind, condition_failed
from tradestream.auth import BucketState
from tradestream.errors import UsernameTaken
from tradestream.identity.ports import RateLimitStore, SessionRecord, SessionStore, UserRecord, UserStore

_BUCKET_TTL_SECONDS = 3600


class UserModel(Model):
    username = UnicodeAttribute(hash_key=True)
    userId = UnicodeAttribute()
    passwordHash = UnicodeAttribute()
    createdAt = UnicodeAttribute()


class SessionModel(Model):
    familyId = UnicodeAttribute(hash_key=True)
    userId = UnicodeAttribute()
    currentJti = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)
    expiresAt = NumberAttribute()  # the table's TTL attribute


class RateLimitModel(Model):
    bucketKey = UnicodeAttribute(hash_key=True)
    tokensMilli = NumberAttribute()
    updatedAtMs = NumberAttribute()
    expiresAt = NumberAttribute()


class DynamoUserStore(UserStore):
    def __init__(self, table_name: str) -> None:
        self._model = bind(UserModel, table_name)

    def create(self, user: UserRecord) -> None:
        item = self._model(
            user.username, userId=user.user_id, passwordHash=user.password_hash, createdAt=user.created_at
        )
        try:
            item.save(condition=self._model.username.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                raise UsernameTaken(f"username {user.username!r} is taken") from exc
            raise

    def get(self, username: str) -> UserRecord | None:
        try:
            item = self._model.get(username)
        except self._model.DoesNotExist:
            return None
        return UserRecord(
            user_id=item.userId,
            username=item.username,
            password_hash=item.passwordHash,
            created_at=item.createdAt,
        )

    def replace_password_hash(self, username: str, *, old_hash: str, new_hash: str) -> bool:
        m = self._model
        try:
            m(username).update(actions=[m.passwordHash.set(new_hash)], condition=m.passwordHash == old_hash)
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True


class DynamoSessionStore(SessionStore):
    def __init__(self, table_name: str) -> None:
        self._model = bind(SessionModel, table_name)

    def create(self, session: SessionRecord) -> None:
        self._model(
            session.family_id,
            userId=session.user_id,
            currentJti=session.current_jti,
            revoked=session.revoked,
            expiresAt=session.expires_at,
        ).save(condition=self._model.familyId.does_not_exist())

    def get(self, family_id: str) -> SessionRecord | None:
        try:
            item = self._model.get(family_id, consistent_read=True)
        except self._model.DoesNotExist:
            return None
        return SessionRecord(
            family_id=item.familyId,
            user_id=item.userId,
            current_jti=item.currentJti,
            revoked=bool(item.revoked),
            expires_at=int(item.expiresAt),
        )

    def rotate(self, family_id: str, *, expected_jti: str, new_jti: str, expires_at: int) -> bool:
        m = self._model
        try:
            m(family_id).update(
                actions=[m.currentJti.set(new_jti), m.expiresAt.set(expires_at)],
                condition=(m.currentJti == expected_jti) & (m.revoked == False),  # noqa: E712 (pynamodb expression)
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def revoke(self, family_id: str) -> None:
        m = self._model
        try:
            m(family_id).update(actions=[m.revoked.set(True)], condition=m.familyId.exists())
        except UpdateError as exc:
            if not condition_failed(exc):
                raise


class DynamoRateLimitStore(RateLimitStore):
    def __init__(self, table_name: str) -> None:
        self._model = bind(RateLimitModel, table_name)

    def get(self, key: str) -> BucketState | None:
        try:
            item = self._model.get(key, consistent_read=True)
        except self._model.DoesNotExist:
            return None
        return BucketState(tokens_milli=int(item.tokensMilli), updated_at_ms=int(item.updatedAtMs))

    def put(self, key: str, state: BucketState, *, expected: BucketState | None) -> bool:
        m = self._model
        condition = (
            m.bucketKey.does_not_exist()
            if expected is None
            else (m.updatedAtMs == expected.updated_at_ms) & (m.tokensMilli == expected.tokens_milli)
        )
        try:
            m(
                key,
                tokensMilli=state.tokens_milli,
                updatedAtMs=state.updated_at_ms,
                expiresAt=state.updated_at_ms // 1000 + _BUCKET_TTL_SECONDS,
            ).save(condition=condition)
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
