// Local camera + microphone, with the device choices kept for the room page.
const KEY = "gv.devices";

export function savedDevices() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) ?? {};
  } catch {
    return {};
  }
}

export function saveDevices(choice) {
  sessionStorage.setItem(KEY, JSON.stringify({ ...savedDevices(), ...choice }));
}

const exact = (id) => (id ? { deviceId: { exact: id } } : true);

// Ask for both; if the chosen device is gone, or one kind is missing, degrade
// rather than fail: a citizen with only a microphone can still talk.
export async function openMedia({ audio, video } = savedDevices()) {
  const md = navigator.mediaDevices;
  const attempts = [
    { audio: exact(audio), video: exact(video) },
    { audio: true, video: true },
    { audio: true, video: false },
    { audio: false, video: true },
  ];
  let lastError;
  for (const constraints of attempts) {
    try {
      return await md.getUserMedia(constraints);
    } catch (error) {
      lastError = error;
      if (error.name === "NotAllowedError" || error.name === "SecurityError") break;
    }
  }
  throw lastError;
}

export async function openVideo(deviceId) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: exact(deviceId) });
  return stream.getVideoTracks()[0];
}

// Phones: the front ("user") or rear ("environment") camera.
export async function openFacing(facing) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: facing } } });
  return stream.getVideoTracks()[0];
}

export async function openAudio(deviceId) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: exact(deviceId) });
  return stream.getAudioTracks()[0];
}

// Fill a <select> with the devices of one kind, selecting the one in use.
export async function fillSelect(select, kind, currentId, fallbackLabel) {
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === kind);
  select.replaceChildren(
    ...devices.map((d, i) => {
      const option = new Option(d.label || `${fallbackLabel} ${i + 1}`, d.deviceId);
      option.selected = d.deviceId === currentId;
      return option;
    }),
  );
  return devices.length;
}

export const trackDevice = (track) => track?.getSettings().deviceId ?? "";
