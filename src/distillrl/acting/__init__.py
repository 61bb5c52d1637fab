"""Acting: collectors, Ray rollout actors, and evaluation of any policy on fixed episode seeds."""
