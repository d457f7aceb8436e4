export default function Loading() {
  return (
    <>
      <h1>Organization</h1>
      <p role="status" className="loading">
        Loading the organization…
      </p>
    </>
  );
}
