#!/usr/bin/env bash
# Starts a one-node Ceph cluster (monitor, one bluestore OSD on a file) and a radosgw S3 gateway
# on loopback, all state under $1. Used by the S3 adapter's tests and for trying TRACKLANE_S3_URL
# on one machine. Needs Debian's radosgw, ceph-mon and ceph-osd (`make s3-engine`).
#   radosgw.sh DIR S3_PORT MON_V2_PORT MON_V1_PORT ACCESS_KEY SECRET_KEY
# Stop: kill $(cat DIR/run/*.pid)
set -euo pipefail
B=$(realpath -m "$1"); S3_PORT=$2; MON2=$3; MON1=$4; ACCESS=$5; SECRET=$6
mkdir -p "$B"/{run,log,mon,osd,rgw}
cd "$B"
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > ceph.conf <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
run dir = $B/run
admin socket = $B/run/\$name.asok
log file = $B/log/\$name.log
pid file = $B/run/\$name.pid
keyring = $B/keyring
erasure code dir = /usr/lib/x86_64-linux-gnu/ceph/erasure-code
osd class dir = /usr/lib/x86_64-linux-gnu/rados-classes
# With auth none, radosgw cannot reach the monitor (error -13) unless every messenger uses crc.
ms mon client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
[mon]
mon data = $B/mon/\$cluster-\$id
[osd]
osd data = $B/osd/\$cluster-\$id
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 4294967296
osd memory target = 536870912
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.a]
rgw data = $B/rgw
rgw frontends = beast endpoint=127.0.0.1:$S3_PORT
rgw dns name = localhost
CONF
mkdir -p "$B/osd/ceph-0"
ceph-authtool --create-keyring keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool keyring --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]" monmap >/dev/null
ceph-mon -c ceph.conf --mkfs -i a --monmap monmap --keyring keyring
ceph-mon -c ceph.conf -i a
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ceph -c ceph.conf osd new "$OSD_UUID" >/dev/null
ceph-osd -c ceph.conf -i 0 --mkfs --osd-uuid "$OSD_UUID" 2>/dev/null
ceph-osd -c ceph.conf -i 0
ceph -c ceph.conf auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' >> keyring
radosgw -c ceph.conf -n client.rgw.a
for _ in $(seq 1 120); do
  if radosgw-admin -c ceph.conf -n client.rgw.a user create --uid=tracklane --display-name=tracklane \
       --access-key="$ACCESS" --secret-key="$SECRET" >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "radosgw did not come up; see $B/log" >&2
exit 1
