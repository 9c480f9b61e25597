import type { ServiceImpl } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { AuditService as AuditServiceDesc, QueryAuditEventsRequest } from "@altalune/proto";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import { auditEventToProto } from "./mapper.js";
import type { AuditRepo } from "./repo.js";

/** The tag filter is not a column filter (tags is an array): taken out of the filters, ANDed as "any of". */
const TAG_FILTER_KEYS = ["tag", "tags"];

export class AuditService implements ServiceImpl<typeof AuditServiceDesc> {
  constructor(private readonly events: AuditRepo) {}

  async queryAuditEvents(req: QueryAuditEventsRequest) {
    const query = listQueryFromProto(req.query);
    const filters = { ...query.filters };
    const tags = TAG_FILTER_KEYS.flatMap((key) => {
      const values = filters[key] ?? [];
      delete filters[key];
      return values;
    });
    const result = await this.events.query(
      { ...query, filters },
      {
        from: req.from === undefined ? undefined : timestampDate(req.from),
        to: req.to === undefined ? undefined : timestampDate(req.to),
        tags,
      },
    );
    return { data: result.rows.map(auditEventToProto), meta: queryMetaToProto(result), countCapped: result.countCapped ?? false };
  }
}
