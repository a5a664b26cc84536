"""SMS segments per message: what each kind costs for realistic structures and site addresses.

Every SMS kind (confirmation, reminder, day before, new time, cancellation) is rendered by
the real code (notifications.messages.render: templates, transliteration, short links, the
length guard) for the demo structure and for long real-world names, with a short and a
40-character SITE_URL, with and without a helpdesk number, in French and English; citizen
names include accents outside GSM-7. Baseline: the same messages with the long signed links
the SMS carried before short links (what an SMS cost without them).

Targets (issue 14): confirmation and reminder 1 segment each for the demo structure, with
either SITE_URL, at most 2 for the longest name; never UCS-2. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sys
from collections import defaultdict
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e import harness  # noqa: E402

DEMO = "Mairie de Démo-sur-Loire"
LONGEST = "Maison France Services de Saint-Rémy-en-Bouzemont-Saint-Genest-et-Isson"
STRUCTURES = [
    DEMO,
    "Mairie de Cœuvres-et-Valsery",
    "France Services de L’Haÿ-les-Roses",
    "Espace France Services — Saint-Pierre (La Réunion)",
    "Communauté de communes du Pays de Château-Gontier",
    LONGEST,
]
SITES = ["https://visio.example.fr", "https://rdv-visio.agglom-exemple.gouv.fr"]  # 24 and 40 characters
assert len(SITES[1]) == 40
CITIZENS = [("Jeanne", "Dupont"), ("Françoise", "Lefèvre-Œuvray"), ("Marie-Ange-Bénédicte", "de La Tour d’Auvergne")]
# (kind, structure, site) -> most segments allowed.
TARGETS = {**{(kind, DEMO, site): 1 for kind in ("confirmation", "reminder") for site in SITES},
           ("confirmation", LONGEST, SITES[1]): 2, ("reminder", LONGEST, SITES[1]): 2}


def main() -> None:
    harness.bench_environment()
    from django.test import override_settings
    from django.utils import timezone

    from notifications import messages, sms
    from notifications.models import Kind, Notification
    from portal import events
    from portal.models import Channel, Structure
    from tests import factories

    events.booked.disconnect(dispatch_uid="notifications.booked")  # only the rows made here
    worst: dict[tuple[str, str, str], int] = defaultdict(int)
    worst_long: dict[tuple[str, str, str], int] = defaultdict(int)
    longest_text: dict[str, str] = {}
    ucs2 = 0
    rendered = 0
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    for name, site, phone, language, (first, last) in itertools.product(
        STRUCTURES, SITES, ["+33238000000", ""], ["fr", "en"], CITIZENS
    ):
        structure = Structure.objects.create(name=name, helpdesk_phone=phone, time_zone="Europe/Paris")
        agent = factories.member(structure)
        appointment = factories.appointment(
            structure, agent, start=start, citizen_first_name=first, citizen_last_name=last
        )
        with override_settings(SITE_URL=site):
            for kind in Kind:
                row = Notification.objects.create(
                    appointment=appointment, kind=kind, channel=Channel.SMS, due_at=start, language=language
                )
                body = messages.render(row).body
                rendered += 1
                ucs2 += sms.encoding(body) != "GSM-7"
                key = (kind.value, name, site)
                if sms.segments(body) >= worst[key]:
                    worst[key] = sms.segments(body)
                    if name == LONGEST and site == SITES[1] and language == "fr" and phone:
                        longest_text[kind.value] = body
                # Baseline: the long signed links instead of the short ones.
                with mock.patch.object(messages, "short_url", lambda _appointment, url: url):
                    worst_long[key] = max(worst_long[key], sms.segments(messages.render(row).body))
    kinds = [kind.value for kind in Kind]
    print(f"{rendered} SMS rendered (structures × 2 SITE_URLs × helpdesk number or not × fr/en × 3 citizens)")
    print(f"UCS-2 messages: {ucs2}")
    print("\nworst segments per kind (with short links / baseline with long signed links):")
    print(f"{'structure':<72} {'SITE_URL':<9} " + " ".join(f"{k:>14}" for k in kinds))
    for name, site in itertools.product(STRUCTURES, SITES):
        cells = " ".join(f"{worst[(k, name, site)]:>6} / {worst_long[(k, name, site)]:<6}" for k in kinds)
        print(f"{name:<72} {len(site):>2} chars  {cells}")
    print(f"\nlongest name, {len(SITES[1])}-character SITE_URL, with a helpdesk number, in French:")
    for kind, body in longest_text.items():
        print(f"--- {kind} ({sms.segments(body)} segment(s), {sms.septets(body)} septets)\n{body}")
    missed = [f"{key}: {worst[key]} > {limit}" for key, limit in TARGETS.items() if worst[key] > limit]
    missed += [f"{key}: {count} > {sms.MAX_SEGMENTS}" for key, count in worst.items() if count > sms.MAX_SEGMENTS]
    if ucs2:
        missed.append(f"{ucs2} message(s) in UCS-2")
    print("\ntargets: " + ("all held" if not missed else "MISSED: " + "; ".join(missed)))
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
