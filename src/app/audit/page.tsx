import type { Metadata } from "next";

import { roleAtLeast } from "@/server/auth";
import { api, currentStaff } from "@/trpc/server";

import { DataTable } from "../_components/data-table";
import { FilterForm } from "../_components/filter-form";
import { KeysetPager } from "../_components/keyset-pager";
import { UtcTime } from "../_components/utc-time";
import { instantIdCursorParam } from "../_lib/cursor-param";
import { queryString, withQuery } from "../_lib/query-string";
import { firstParam } from "../_lib/search-params";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Audit log" };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

/** The keyset cursor in the URL: `<ISO created at>_<id>`. */
const auditCursorParam = instantIdCursorParam("createdAt", "id");

function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span className="muted">—</span>;
  return <code className="json">{JSON.stringify(value)}</code>;
}

/** Every staff write — who, what, when, before and after — newest first (admins only). */
export default async function AuditPage({ searchParams }: { searchParams: SearchParams }) {
  const session = await currentStaff();
  if (!roleAtLeast(session?.user.role, "admin")) {
    return (
      <>
        <h1>Audit log</h1>
        <div className="notice" role="note">
          <p>Admins only: the audit log is readable by the admin role.</p>
        </div>
      </>
    );
  }
  const params = await searchParams;
  const filter = { actor: firstParam(params.actor), action: firstParam(params.action), targetId: firstParam(params.target) };
  const cursor = auditCursorParam.read(params.after);
  const page = await api.billing.audit.list({ ...filter, cursor, limit: 50 });
  const raw = { actor: filter.actor, action: filter.action, target: filter.targetId };

  return (
    <>
      <h1>Audit log</h1>
      <p className="muted">Every write made by staff, newest first. Times are UTC.</p>
      <FilterForm action="/audit" label="Audit filters" clearHref={queryString(raw) ? "/audit" : null}>
        <div className="field">
          <label htmlFor="audit-actor">Actor</label>
          <input id="audit-actor" name="actor" defaultValue={filter.actor} placeholder="staff:admin@…" />
        </div>
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <input id="audit-action" name="action" defaultValue={filter.action} placeholder="e.g. usage.adjust" />
        </div>
        <div className="field">
          <label htmlFor="audit-target">Target id</label>
          <input id="audit-target" name="target" defaultValue={filter.targetId} />
        </div>
      </FilterForm>
      {page.items.length === 0 ? (
        <p className="muted">{cursor ? "No older entries." : "No staff writes match."}</p>
      ) : (
        <DataTable label="Staff writes">
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((e) => (
              <tr key={e.id}>
                <td>
                  <UtcTime value={e.createdAt} precision="second" />
                </td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>
                  {e.targetType} <code>{e.targetId}</code>
                </td>
                <td>
                  <Json value={e.before} />
                </td>
                <td>
                  <Json value={e.after} />
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      <KeysetPager
        label="Audit pages"
        firstHref={cursor ? withQuery("/audit", raw) : null}
        nextHref={page.nextCursor ? withQuery("/audit", raw, { after: auditCursorParam.write(page.nextCursor) }) : null}
        nextLabel="Older entries →"
      />
    </>
  );
}
