/** An honest placeholder for a page a later issue builds: no fake data. */
export function NotBuiltYet({ title, what, tracking }: { title: string; what: string; tracking: string }) {
  return (
    <>
      <h1>{title}</h1>
      <div className="notice" role="note">
        <p>
          <strong>Not built yet:</strong> {what} — tracked in {tracking}.
        </p>
      </div>
    </>
  );
}
