"""A realistic history of an office, played through the domain operations with explicit clocks.

Citizens arrive through the day, counters open at 08:00 and call the next
ticket whenever they are free; some citizens do not come to the counter, a few
give up; many rate their visit, some leave a comment; a few file complaints.
Deterministic (seeded), so screenshots and figures are stable.
"""

from __future__ import annotations

import heapq
import random
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from queue_app.extensions import db
from queue_app.models import (
    ComplaintKind,
    FeedbackSource,
    Site,
    TicketSource,
    TicketStatus,
    User,
)
from queue_app.quality.complaints import answer, submit_complaint
from queue_app.quality.feedback import record_feedback
from queue_app.queue import (
    Actor,
    call_next,
    cancel,
    close_counter,
    finish,
    issue_ticket,
    mark_no_show,
    open_counter,
    start,
)
from queue_app.queue.days import zone

COMMENTS = {
    5: [
        "Accueil très aimable, merci !",
        "Rapide et efficace.",
        "Très bien reçu, bravo à l'équipe.",
    ],
    4: ["Bien, mais un peu d'attente.", "Agent patient et clair."],
    3: ["L'attente était longue.", "Correct, sans plus."],
    2: [
        "Trop d'attente pour un simple retrait.",
        "Il manquait un document, on ne me l'avait pas dit.",
    ],
    1: ["Deux heures d'attente, inacceptable.", "Guichet fermé sans explication."],
}
COMPLAINTS = [
    "J'ai attendu plus de deux heures pour ma carte d'identité "
    "alors que l'écran annonçait 30 minutes.",
    "Le guichet 3 a fermé à 11 h sans prévenir et personne ne nous a orientés.",
    "Suggestion : afficher la liste des pièces à fournir à l'entrée, "
    "cela éviterait des allers-retours.",
]


def play_history(
    app: Any,
    slug: str,
    first: date,
    days: int,
    per_day: int,
    *,
    seed: int = 7,
    ratings: bool = True,
    complaints: int = 0,
) -> int:
    """Play ``days`` working days from ``first`` at the site; returns tickets issued."""
    rng = random.Random(seed)
    issued_total = 0
    with app.app_context():
        session = db.session
        site = session.scalar(select(Site).where(Site.slug == slug))
        assert site is not None
        tz = zone(site.timezone)
        services = [s for s in site.services if s.is_active]
        counters = list(site.counters)
        agents = [
            u
            for u in session.scalars(select(User)).all()
            if u.role.value in ("agent", "manager") and any(s.id == site.id for s in u.sites)
        ]
        kiosk = Actor()
        for offset in range(days):
            day = first + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            opening = datetime.combine(day, time(8, 0), tzinfo=tz)
            closing = datetime.combine(day, time(15, 30), tzinfo=tz)
            staffed = counters[: max(1, min(len(agents), len(counters)))]
            actors = {}
            for counter, agent in zip(staffed, agents, strict=False):
                open_counter(session, counter, agent, now=opening)
                actors[counter.id] = Actor(user=agent)
            session.commit()
            # Arrivals: busier in the morning.
            arrivals = sorted(
                opening + timedelta(minutes=rng.triangular(0, 420, 90)) for _ in range(per_day)
            )
            heap: list[tuple[datetime, int, str, Any]] = []
            sequence = 0
            for moment in arrivals:
                heapq.heappush(heap, (moment, sequence, "arrive", rng.choice(services)))
                sequence += 1
            for counter in staffed:
                heapq.heappush(heap, (opening + timedelta(minutes=5), sequence, "free", counter))
                sequence += 1
            while heap:
                moment, _, kind, item = heapq.heappop(heap)
                if kind == "arrive":
                    if moment > closing:
                        continue
                    issued = issue_ticket(
                        session, site, item, actor=kiosk, source=TicketSource.KIOSK, now=moment
                    )
                    session.commit()
                    issued_total += 1
                    if rng.random() < 0.04:
                        patience = moment + timedelta(minutes=rng.uniform(20, 60))
                        heapq.heappush(heap, (patience, sequence, "giveup", issued.ticket))
                        sequence += 1
                elif kind == "giveup":
                    if item.status == TicketStatus.WAITING:
                        cancel(session, item, actor=kiosk, now=moment)
                        session.commit()
                elif kind == "free":
                    counter = item
                    actor = actors[counter.id]
                    ticket = call_next(session, counter, actor=actor, now=moment)
                    session.commit()
                    if ticket is None:
                        if moment < closing + timedelta(minutes=30):
                            again = moment + timedelta(minutes=3)
                            heapq.heappush(heap, (again, sequence, "free", counter))
                            sequence += 1
                        continue
                    if rng.random() < 0.07:
                        gone = moment + timedelta(minutes=3)
                        mark_no_show(session, ticket, actor=actor, now=gone)
                        session.commit()
                        heapq.heappush(heap, (gone, sequence, "free", counter))
                        sequence += 1
                        continue
                    began = moment + timedelta(minutes=rng.uniform(0.5, 2))
                    start(session, ticket, actor=actor, now=began)
                    minutes = max(1.5, rng.gauss(ticket.service.avg_service_seconds / 60, 2.5))
                    done = began + timedelta(minutes=minutes)
                    finish(session, ticket, actor=actor, now=done)
                    session.commit()
                    if ratings and rng.random() < 0.45:
                        rating = rng.choices([1, 2, 3, 4, 5], weights=[4, 6, 14, 38, 38])[0]
                        comment = rng.choice(COMMENTS[rating]) if rng.random() < 0.3 else None
                        record_feedback(
                            session,
                            ticket,
                            rating=rating,
                            comment=comment,
                            source=FeedbackSource.TABLET
                            if rng.random() < 0.8
                            else FeedbackSource.WEB,
                            window=timedelta(days=2),
                            now=done + timedelta(minutes=1),
                        )
                        session.commit()
                    heapq.heappush(heap, (done, sequence, "free", counter))
                    sequence += 1
            for counter in staffed:
                close_counter(session, counter, now=closing + timedelta(hours=1))
            session.commit()
        manager = next((u for u in agents if u.role.value == "manager"), None)
        for index in range(complaints):
            filed = datetime.combine(
                first + timedelta(days=index * 2 % max(days, 1)), time(10, 15), tzinfo=tz
            )
            complaint = submit_complaint(
                session,
                site,
                kind=ComplaintKind.SUGGESTION
                if COMPLAINTS[index % len(COMPLAINTS)].startswith("Suggestion")
                else ComplaintKind.COMPLAINT,
                text=COMPLAINTS[index % len(COMPLAINTS)],
                name="Awa Diallo" if index % 2 == 0 else None,
                phone="+221771234567" if index % 2 == 0 else None,
                service=services[index % len(services)],
                answer_days=15,
                now=filed,
            )
            if index == 0 and manager is not None:
                answer(
                    session,
                    complaint,
                    "Nous vous prions de nous excuser. Un agent supplémentaire est désormais "
                    "affecté aux cartes d'identité le matin.",
                    by=manager,
                    send_sms=False,
                    now=filed + timedelta(days=3),
                )
            session.commit()
    return issued_total
