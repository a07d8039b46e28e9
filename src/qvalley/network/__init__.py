"""The quantum communication backbone: QKD links, trusted-node relay, ETSI 014 key delivery.

A sibling stack of the simulator layers: it shares only utilities (errors, CLI conventions) with
them. Subpackages: :mod:`qvalley.network.qkd` (link physics, protocol, post-processing) and the
network layers (relay, kms, transport).
"""
