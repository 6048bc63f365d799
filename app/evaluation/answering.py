"""Answering an evaluation: three transactions, never the request's (docs/evaluation.md).

1. The marker's: the caller's right to answer is checked and `evaluation_answered` records that
   its enrollment has answered, attributed to the caller (audited, in the change feed); commit.
2. The answer's: the answer's rows are inserted and the session's answer rows rewritten in random
   order with fresh random ids; no actor is set and no trigger fires; commit. So no xmin, no
   commit time and no trail row ties the answer to the marker.
3. Only if 2 failed: the marker is deleted (attributed to the caller), so the trainee may
   answer again; then the failure is answered as it would be anyway (a problem, never a 2xx).
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.actor import Actor
from app.db import attribute, transaction
from app.evaluation import service
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
    try:
        async with transaction(sessionmaker) as db_session:
            await service.record(db_session, claim)
    except Exception:
        async with transaction(sessionmaker) as db_session:
            await attribute(
                db_session, request_id=request_id, actor=actor, client_request_id=client_request_id
            )
            await service.unclaim(db_session, claim.marker_id)
        raise
