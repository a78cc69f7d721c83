"""Run cloud-init's own OpenStack/EC2 readers against a config drive tree or a loopback URL.

Usage (PYTHONPATH must point at an extracted cloud-init package):
  cloudinit_readers.py drive   DIR  KNOWN_MACS_JSON
  cloudinit_readers.py service URL  KNOWN_MACS_JSON
  cloudinit_readers.py imdsv2  URL  KNOWN_MACS_JSON   (EC2 tree only, with a session token)
  cloudinit_readers.py ec2-datasource URL  KNOWN_MACS_JSON  (DataSourceEc2 itself, platform AWS)

Prints one JSON document: what read_v2(), convert_net_json() and (service) the ec2 helpers
returned. bytes are encoded as {"__bytes__": base64}. Before cloud-init is imported, every socket
connect to a non-loopback address is refused and recorded, so nothing can ever reach
169.254.169.254 (stock MetadataReader reads its EC2 part from there; we override it).
"""

import base64
import copy
import ipaddress
import json
import socket
import sys

BLOCKED = []
_real_connect = socket.socket.connect


def _loopback_only_connect(sock, address):
    host = address[0] if isinstance(address, tuple) else address
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        BLOCKED.append(str(host))
        raise OSError("cloudprobe test guard: refused connect to non-loopback %s" % (host,))
    return _real_connect(sock, address)


socket.socket.connect = _loopback_only_connect

from cloudinit import url_helper  # noqa: E402
from cloudinit.sources.helpers import ec2, openstack  # noqa: E402


def plain(value):
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class LoopbackMetadataReader(openstack.MetadataReader):
    """The stock reader, with its EC2 part pointed at our loopback URL instead of 169.254.169.254."""

    def _read_ec2_metadata(self):
        return ec2.get_instance_metadata(
            metadata_address=self.base_path, ssl_details=self.ssl_details, timeout=self.timeout, retries=self.retries
        )


def ec2_datasource(url):
    """DataSourceEc2 as on an instance whose DMI says AWS (ec2… uuid = serial), pointed at URL.

    Returns what it read and every WARNING-or-worse record it logged (what fails a clean boot).
    """
    import logging
    import tempfile

    problems = []

    class Collect(logging.Handler):
        def emit(self, record):
            problems.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logging.getLogger().addHandler(handler)
    tmp_dir = tempfile.TemporaryDirectory(prefix="cloudprobe-ec2ds-")
    try:
        return _ec2_datasource_in(url, tmp_dir.name, problems)
    finally:
        logging.getLogger().removeHandler(handler)
        tmp_dir.cleanup()


def _ec2_datasource_in(url, tmp, problems):
    from unittest import mock

    from cloudinit import distros, helpers, util
    from cloudinit.sources import DataSourceEc2

    paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
    distro = distros.fetch("debian")("debian", {}, paths)
    sys_cfg = {"datasource": {"Ec2": {"metadata_urls": [url], "max_wait": 10, "timeout": 5}}}
    # No DNS from the host: the loopback URL needs no resolving.
    with mock.patch.object(DataSourceEc2, "identify_platform", return_value="aws"), mock.patch.object(
        util, "is_resolvable_url", return_value=True
    ), mock.patch.object(DataSourceEc2.DataSourceEc2, "fallback_interface", "ens3"):
        ds = DataSourceEc2.DataSourceEc2(sys_cfg=sys_cfg, distro=distro, paths=paths)
        found = ds.get_data()
        out = {"found": found, "cloud_name": ds.cloud_name}
        if found:
            out.update(
                instance_id=ds.get_instance_id(),
                api_version=ds._crawled_metadata.get("_metadata_api_version"),
                identity=ds.identity,
                region=ds.region,
                availability_zone=ds.availability_zone,
                public_keys=ds.get_public_ssh_keys(),
                userdata=ds.userdata_raw,
                network_config=ds.network_config,
            )
    out["problems"] = problems
    out["blocked"] = BLOCKED
    return out


def main():
    mode, where, macs_json = sys.argv[1], sys.argv[2], sys.argv[3]
    known_macs = json.loads(macs_json)
    out = {}
    if mode == "drive":
        result = openstack.ConfigDriveReader(where).read_v2()
    elif mode == "service":
        result = LoopbackMetadataReader(where, timeout=5, retries=0).read_v2()
        out["ec2_metadata"] = ec2.get_instance_metadata(metadata_address=where, timeout=5, retries=0)
        out["ec2_userdata"] = ec2.get_instance_userdata(metadata_address=where, timeout=5, retries=0)
    elif mode == "imdsv2":
        # As cloud-init's Ec2 datasource does: PUT for a token, then send it with every GET.
        token_url = url_helper.combine_url(where, "latest", "api", "token")
        token = url_helper.readurl(
            token_url, headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"}, request_method="PUT", timeout=5
        ).contents.decode()
        headers = {"X-aws-ec2-metadata-token": token}
        out["ec2_metadata"] = ec2.get_instance_metadata(
            metadata_address=where, timeout=5, retries=0, headers_cb=lambda _url: headers
        )
        out["ec2_metadata_without_token"] = ec2.get_instance_metadata(metadata_address=where, timeout=5, retries=0)
        out["blocked"] = BLOCKED
        json.dump(plain(out), sys.stdout, sort_keys=True)
        return
    elif mode == "ec2-datasource":
        json.dump(plain(ec2_datasource(where)), sys.stdout, sort_keys=True, default=str)
        return
    else:
        raise SystemExit("unknown mode %s" % mode)
    out["read_v2"] = result
    # convert_net_json rewrites services in place; keep read_v2's result as it was read.
    out["network_config"] = openstack.convert_net_json(copy.deepcopy(result.get("networkdata")), known_macs=known_macs)
    out["blocked"] = BLOCKED
    json.dump(plain(out), sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
