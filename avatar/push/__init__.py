"""The anchor push: a virtual-anchor room's program as H.264 + AAC in FLV over RTMP(S)."""
