"""What the caller hears, as TwiML built with the Twilio SDK. No I/O.

In French, in a French voice: a call carries no language preference (a page does), and
the words must match the voice, so they are not translated.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, Gather, VoiceResponse

LANGUAGE = "fr-FR"
CODE_DIGITS = 8


def _say(response: VoiceResponse | Gather, text: str) -> None:
    response.say(text, language=LANGUAGE)


def ask_code(code_url: str, *, again: bool = False) -> str:
    """Welcome (or "wrong code"), then the 8-digit code on the keypad, ended by # or the 8th digit."""
    response = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=CODE_DIGITS, finish_on_key="#", timeout=10,
                    action=code_url, method="POST")
    if again:
        _say(gather, ("Ce code ne correspond à aucun rendez-vous. Tapez à nouveau le code à huit chiffres, "
                       "puis dièse."))
    else:
        _say(gather, ("Bonjour, vous êtes sur le service de rendez-vous vidéo. Tapez le code de votre "
                       "rendez-vous, à huit chiffres, puis dièse."))
    response.append(gather)
    # No digits before the timeout: Twilio goes on to the next verb, the same action with no Digits.
    response.redirect(code_url, method="POST")
    return str(response)


def goodbye(reason: str = "wrong") -> str:
    """A polite end, then hang up."""
    words = {
        "wrong": ("Le code n'a pas été reconnu. Vérifiez le code reçu par message et rappelez. Au revoir."),
        "too_early": ("Votre rendez-vous n'est pas encore ouvert. Rappelez quelques minutes avant l'heure. "
                       "Au revoir."),
        "over": ("Ce rendez-vous est terminé. Au revoir."),
        "closed": ("Ce rendez-vous n'est pas disponible. Au revoir."),
        "no_service": ("Ce numéro ne permet pas de rejoindre un rendez-vous. Au revoir."),
        "unavailable": ("Le service est momentanément indisponible. Rappelez dans quelques minutes, ou "
                        "rejoignez votre rendez-vous par le lien reçu. Au revoir."),
    }
    response = VoiceResponse()
    _say(response, words.get(reason, words["closed"]))
    response.hangup()
    return str(response)


def connect(stream_url: str, token: str, *, dial_out: bool = False) -> str:
    """The code was right (or the agent called): join the room's audio through the Media Stream."""
    response = VoiceResponse()
    if dial_out:
        _say(response, ("Bonjour, votre conseiller vous appelle pour votre rendez-vous vidéo."))
    else:
        _say(response, ("Merci. Vous êtes dans la salle d'attente: votre conseiller va vous faire entrer. "
                         "Pendant l'appel, tapez étoile six pour couper ou rétablir votre micro."))
    connect_verb = Connect()
    stream = connect_verb.stream(url=stream_url)
    stream.parameter(name="token", value=token)
    response.append(connect_verb)
    # The stream ends when the room ends it (left, removed, over): then hang up.
    _say(response, ("Votre appel est terminé. Au revoir."))
    response.hangup()
    return str(response)
