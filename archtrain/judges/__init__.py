"""Judges of generated examples, without downloads: `toys` for 2-D mixtures with known modes (modes
covered, share near a mode, MMD), `images` for pictures (a domain FID through a classifier that archtrain
trained on the same data, and that classifier's view of the samples), `classifier` for that judge itself
(a run given by the user, or one trained and cached on first use)."""
