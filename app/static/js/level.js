// The phone's roll about its lens axis, from a DeviceOrientationEvent and the screen's orientation.
//
// The event gives the device's attitude as intrinsic Z-X'-Y'' Euler angles (alpha about z, beta about
// the new x, gamma about the newest y), in the device frame: x to the right of the screen in its natural
// orientation, y up the screen, z out of the screen towards the viewer. The rotation from the device
// frame to the Earth frame (east, north, up) is R = Rz(alpha) · Rx(beta) · Ry(gamma), so "up" seen in the
// device frame is the last row of R:
//
//   up = Rᵀ · (0, 0, 1) = (−cos β · sin γ,  sin β,  cos β · cos γ)
//
// (alpha, the compass heading, drops out: turning about the vertical does not tilt the picture). The rear
// camera looks along −z and shows device x to the right and device y up, so the direction in which
// vertical lines run in the picture is the projection of `up` onto the screen plane, (upₓ, up_y), exactly
// for any pitch (a camera looking down or up only shortens that projection). The roll is the angle from
// the screen's up to that projection, clockwise on the screen:
//
//   roll = atan2(upₓ, up_y) − screen angle
//
// The screen angle (`screen.orientation.angle`, else the older `window.orientation`) is how far the
// device is turned counterclockwise from its natural orientation; the page then draws with its up along
// the device's direction turned by that angle, so it is subtracted. A positive roll means the phone is
// turned counterclockwise (its top to the left) as you look at the screen, and true verticals appear
// turned clockwise in the photo: the sign of the API's `camera_roll_deg` (posture/level.py), so the
// number read here is sent as it is.
//
// Near beta = ±90° (phone upright) gamma alone says almost nothing of the roll (it swings towards ±90°
// as the phone rolls): only the combination above is right. Flat on its back (up ≈ ±z) the projection
// vanishes and the roll is undefined: `tilt` (the angle between the screen plane and the vertical)
// tells the caller how far from upright the phone is.

const DEG = Math.PI / 180;

/** The screen's rotation counterclockwise from the device's natural orientation, in degrees (0–359). */
export function screenAngle() {
  const so = typeof screen !== "undefined" ? screen.orientation : null;
  if (so && typeof so.angle === "number") return ((so.angle % 360) + 360) % 360;
  const legacy = typeof window !== "undefined" ? window.orientation : undefined; // iOS before 16.4
  if (typeof legacy === "number") return ((legacy % 360) + 360) % 360;
  return 0;
}

/** An angle in degrees brought into (−180, 180]. */
export function wrapDeg(angle) {
  let a = angle % 360;
  if (a > 180) a -= 360;
  if (a <= -180) a += 360;
  return a;
}

/**
 * The roll about the lens axis, in degrees (+ = phone turned counterclockwise as you look at its
 * screen), and `pitch`: how far the lens axis points above (+) or below (−) the horizon, in degrees.
 * Returns null when beta or gamma is missing (no sensor) or the phone lies too flat for a roll (the
 * projection of the vertical onto the screen is shorter than `minUpright`, sin 20° by default).
 */
export function rollFromOrientation(beta, gamma, angle = 0, { minUpright = Math.sin(20 * DEG) } = {}) {
  if (typeof beta !== "number" || typeof gamma !== "number" || !Number.isFinite(beta) || !Number.isFinite(gamma)) {
    return null;
  }
  const b = beta * DEG;
  const g = gamma * DEG;
  const ux = -Math.cos(b) * Math.sin(g);
  const uy = Math.sin(b);
  const uz = Math.cos(b) * Math.cos(g);
  if (Math.hypot(ux, uy) < minUpright) return null;
  const roll = wrapDeg(Math.atan2(ux, uy) / DEG - angle);
  // The rear camera looks along −z: it points above the horizon when −z has an upward component.
  const pitch = Math.asin(Math.max(-1, Math.min(1, -uz))) / DEG;
  return { roll, pitch };
}
