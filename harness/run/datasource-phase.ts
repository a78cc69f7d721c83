import { join } from 'node:path';
import { buildConfigDrive } from '../datasource/configdrive.ts';
import type { CellSpec } from '../model/cell.ts';
import { datasourceDef } from '../model/datasources.ts';
import type { InstanceEndpoint, MetadataService } from '../metadata/service.ts';
import type { CleanupStack } from '../util/cleanup-stack.ts';
import type { ArtifactWriter } from '../vm/artifacts.ts';
import type { ConfigDriveAttachment } from '../vm/spec.ts';

/** What the VM is given for its datasource: a drive to attach, or a metadata proxy to route to. */
export interface PreparedDatasource {
  configDrive?: ConfigDriveAttachment;
  endpoint?: InstanceEndpoint;
}

export interface DatasourceSetup {
  cell: CellSpec;
  workDir: string;
  /** The guest's address (the proxy sees it as X-Forwarded-For; EC2 local-ipv4). */
  guestIp: string;
  /** The metadata service (the run's shared one, or the cell's own). */
  service?: MetadataService;
  /** Where the guest's requests are seen when not at the instance proxy (neutron: the metadata agent). */
  requests?: () => object[];
  cleanup: CleanupStack;
  artifacts: ArtifactWriter;
  log: (line: string) => void;
}

/**
 * Prepares the cell's datasource by its registry entry's transport: builds nova's config drive
 * into the work dir, or registers the instance with the metadata service it is given (the run's
 * shared one, else the cell's own). The registration's undo — write the request log, forget the
 * instance — is deferred right here.
 */
export async function prepareDatasource(s: DatasourceSetup): Promise<PreparedDatasource> {
  const transport = datasourceDef(s.cell.datasource).transport;
  if (transport.kind === 'drive') {
    const path = join(s.workDir, transport.file);
    await buildConfigDrive(s.cell.instance, { format: transport.format, output: path });
    return { configDrive: { format: transport.format, path } };
  }
  const service = s.service;
  if (!service) throw new Error(`cell ${s.cell.id}: a metadata-service datasource needs the metadata service`);
  const endpoint = await service.addInstance(s.cell.instance, { imdsv2: s.cell.imdsv2, guestIp: s.guestIp });
  s.cleanup.defer('metadata request log, then forget the instance', async () => {
    const reqs = s.requests ? s.requests() : endpoint.requests();
    await s.artifacts.write('metadataRequests', 'metadata-requests.jsonl', reqs.map((r) => JSON.stringify(r)).join('\n') + (reqs.length ? '\n' : ''));
    await service.removeInstance(endpoint.uuid);
  });
  s.log(`metadata proxy for ${s.cell.instance.uuid} on ${endpoint.url}`);
  return { endpoint };
}
