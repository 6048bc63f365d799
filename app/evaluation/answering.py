"""Answering an evaluation: three transactions, never the request's (docs/evaluation.md).

1. The marker's: the caller's right to answer is checked and `evaluation_answered` records that
   its enrollment has answered, attributed to the caller (audited, in the change feed); commit.
2. The answer's: the window and the form are read again under the answers' lock, the answer's
   rows are inserted and the session's answer rows rewritten in random order with fresh random
   ids; no actor is set and no trigger fires; commit. So no xmin, no commit time and no trail
   row ties the answer to the marker.
3. Only if 2 did not commit: the marker is deleted (attributed to the caller), so the trainee
   may answer again; then the failure is answered as it would be anyway (a problem, never a
   2xx). This runs for any failure, a cancelled request (client gone, shutdown) included, and
   shielded from a second cancellation. When 2 failed while its COMMIT was in flight (say the
   connection dropped), the marker is deleted only if the database says the transaction
   aborted: an answer that committed keeps its marker, or the trainee could answer twice.
   What is left: a process killed between 1 and 3, or a COMMIT whose outcome the database
   cannot tell yet, leaves a marker without an answer (docs/evaluation.md "What remains").
"""

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.actor import Actor
from app.db import attribute, transaction
from app.evaluation import repository, service
from app.evaluation.schemas import EvaluationAnswerCreate


async def answer(
    sessionmaker: async_sessionmaker[AsyncSession],
    training_session_id: uuid.UUID,
    data: EvaluationAnswerCreate,
    actor: Actor,
    *,
    request_id: str | None,
    client_request_id: str | None,
) -> None:
    async with transaction(sessionmaker) as db_session:
        await attribute(
            db_session, request_id=request_id, actor=actor, client_request_id=client_request_id
        )
        claim = await service.claim(db_session, training_session_id, data, actor)
    # Set once the answer's statements are done: a failure after it is the COMMIT's.
    committing: str | None = None
    try:
        async with transaction(sessionmaker) as db_session:
            await service.record(db_session, claim)
            committing = await repository.current_xact_id(db_session)
    except BaseException:
        await asyncio.shield(
            _release(
                sessionmaker,
                claim.marker_id,
                committing,
                actor,
                request_id=request_id,
                client_request_id=client_request_id,
            )
        )
        raise


async def _release(
    sessionmaker: async_sessionmaker[AsyncSession],
    marker_id: uuid.UUID,
    committing: str | None,
    actor: Actor,
    *,
    request_id: str | None,
    client_request_id: str | None,
) -> None:
    """Delete the marker of an answer that did not commit: failed before its COMMIT was sent
    (`committing` None), or, sent, the database reports that transaction aborted."""
    async with transaction(sessionmaker) as db_session:
        if (
            committing is not None
            and await repository.xact_status(db_session, committing) != "aborted"
        ):
            return
        await attribute(
            db_session, request_id=request_id, actor=actor, client_request_id=client_request_id
        )
        await service.unclaim(db_session, marker_id)
