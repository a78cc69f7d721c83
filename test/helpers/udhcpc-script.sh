#!/bin/sh
# busybox udhcpc's event script for the neutron tests' stand-in VM: apply the lease the way a
# guest's DHCP client does, option 121 (classless static routes) taking precedence over option 3.
case "$1" in
  bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do ip route add "$1" via "$2" dev "$interface"; shift 2; done
    elif [ -n "$router" ]; then
      ip route add default via "${router%% *}" dev "$interface"
    fi
    ;;
esac
exit 0
