#!/bin/sh
# Joins this node; run once.
k3s agent --server https://10.0.0.1:6443 \
  --token \
  WrapTok7Xq2Lm9Rz4Kp1 \
  --node-name node-alpha-01

database password:
    WrappedDbPw5Tq8Zn
failed to validate token:
    signature mismatch
