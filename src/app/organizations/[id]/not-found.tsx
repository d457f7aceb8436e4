import Link from "next/link";

export default function OrganizationNotFound() {
  return (
    <>
      <h1>Organization not found</h1>
      <section className="empty" aria-label="Not found">
        <p>There is no organization with this id.</p>
        <p>
          <Link href="/organizations">Back to the organizations</Link>
        </p>
      </section>
    </>
  );
}
