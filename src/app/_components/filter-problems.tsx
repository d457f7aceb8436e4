/** What was wrong with the filter in the URL (the page then shows no filtered results). */
export function FilterProblems({ problems }: { problems: readonly string[] }) {
  return (
    <div className="notice" role="alert">
      <p>
        <strong>The filter is not valid:</strong> {problems.join("; ")}
      </p>
    </div>
  );
}
