import type { ImageManifest } from '../images/manifest.ts';
import type { Plan } from '../model/cell.ts';
import { parseCase } from '../plan/case-file.ts';
import { planCases, type RunCredentials } from '../plan/planner.ts';
import { DISCOVERY_USER } from './facts.ts';

/**
 * certify's two cases, written as case files are (and planned by the same planner): a discovery
 * boot that only logs in to learn the default user, and the card's matrix, which gives the image
 * nothing but the seed article's user data, the way an OpenStack user would.
 */

const DISCOVERY = `
name: certify-discovery
images: [IMAGE]
datasources: [configdrive-iso9660]
networks: [dhcp]
instance:
  name: certify
  hostname: certify.example.net
  public_keys:
    cloudprobe: \${SSH_PUBLIC_KEY}
  user_data: |
    #cloud-config
    # The image's own default user is created as usual ("default"); a second user with the run's
    # key and sudo lets the harness in before it knows that user's name.
    users:
      - default
      - name: ${DISCOVERY_USER}
        gecos: cloudprobe certify discovery login
        lock_passwd: true
        shell: /bin/sh
        sudo: "ALL=(ALL) NOPASSWD:ALL"
        ssh_authorized_keys: ["\${SSH_PUBLIC_KEY}"]
expect:
  clean_boot: false
`;

/** The seed article's user data and checks; neutron's two metadata paths where this host can run them. */
const MATRIX = `
name: certify
images: [IMAGE]
# EC2 with tokens optional: cloud-init sees an AWS guest there and needs IMDSv2.
datasources: [configdrive-iso9660, configdrive-vfat, metadata-openstack, { kind: metadata-ec2, imdsv2: optional }]
networks:
  - dhcp
  - static
  - label: neutron-l3-agent
    description: DHCP subnet with a router; the router namespace answers 169.254.169.254
    networks:
      - { name: private, router: true, metadata: l3-agent, subnet: { cidr: 172.16.11.0/24 } }
    nics: [{ network: private, fixed_ip: 172.16.11.26 }]
    datasources: [metadata-openstack]
  - label: neutron-dhcp-agent
    description: isolated DHCP subnet; the DHCP namespace serves metadata (route by DHCP option 121)
    networks:
      - { name: private, metadata: dhcp-agent, subnet: { cidr: 172.16.11.0/24 } }
    nics: [{ network: private, fixed_ip: 172.16.11.26 }]
    datasources: [metadata-openstack]
instance:
  name: cloud
  hostname: cloud.yunshan.net
  public_keys:
    cloudprobe: \${SSH_PUBLIC_KEY}
  user_data: |
    #cloud-config
    chpasswd:
      expire: false
      users:
        - { name: root, password: "\${PASSWORD}", type: text }
        - { name: \${DEFAULT_USER}, password: "\${PASSWORD}", type: text }
    ssh_pwauth: true
    disable_root: false
    hostname: cloud.yunshan.net
    manage_etc_hosts: true
    timezone: Asia/Shanghai
    ssh_authorized_keys:
      - \${SSH_PUBLIC_KEY}
    runcmd:
      - mkdir /yunshan
expect:
  hostname: cloud
  fqdn: cloud.yunshan.net
  etc_hosts: { fqdn: cloud.yunshan.net, hostname: cloud }
  authorized_keys:
    - { user: "\${DEFAULT_USER}", keys: ["\${SSH_PUBLIC_KEY}"] }
  password_login:
    - { user: "\${DEFAULT_USER}", password: "\${PASSWORD}" }
  timezone: Asia/Shanghai
  runcmd_paths: [/yunshan]
  clean_boot:
    # nova's EC2 tree has no network/ key (AWS's has): cloud-init on an AWS-looking guest warns and
    # falls back to DHCP on the first NIC, which is what the EC2 column proves (as cases/ec2.yaml).
    allowed_recoverable: ['Metadata ''network'' key not valid: None\\.']
`;

/** The card's rows and columns, in the matrix case's order. */
export const CARD_AXES = {
  datasources: ['configdrive-iso9660', 'configdrive-vfat', 'metadata-openstack', 'metadata-ec2-imdsv2-optional'],
  networks: ['dhcp', 'static', 'neutron-l3-agent', 'neutron-dhcp-agent'],
};

function plan(text: string, file: string, manifest: ImageManifest, creds: RunCredentials): Promise<Plan> {
  const loaded = parseCase(text.replace('[IMAGE]', `[${manifest.name}]`), file);
  return planCases([loaded], (name) => (name === manifest.name ? { manifest } : undefined), creds);
}

export function discoveryPlan(manifest: ImageManifest, creds: RunCredentials): Promise<Plan> {
  return plan(DISCOVERY, '(certify discovery case)', manifest, creds);
}

export function matrixPlan(manifest: ImageManifest, creds: RunCredentials): Promise<Plan> {
  return plan(MATRIX, '(certify case)', manifest, creds);
}
