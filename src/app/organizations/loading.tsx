export default function Loading() {
  return (
    <>
      <h1>Organizations</h1>
      <p role="status" className="loading">
        Loading organizations…
      </p>
    </>
  );
}
