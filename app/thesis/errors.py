from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class ThesisNotFound(NotFound):
    code = "thesis.not_found"
    title = N_("Thesis not found")


class ThesisSubjectNotFound(UnprocessableEntity):
    """The body names a session or study log the caller cannot see, or that does not exist."""

    code = "thesis.subject_reference_not_found"
    title = N_("The session or study log named does not exist or is not visible to you")


class NotEnrolled(Conflict):
    code = "thesis.not_enrolled"
    title = N_(
        "The cadre holds no place in that session (enrolled, confirmed or completed), so may "
        "not hand in a thesis with it"
    )


class NotThesisLog(Conflict):
    code = "thesis.not_thesis_log"
    title = N_(
        "A thesis handed in alone names the cadre's own study log of kind thesis, not voided"
    )


class ThesisExists(Conflict):
    code = "thesis.exists"
    title = N_(
        "The cadre has handed in a text of that kind for that session, or for that study log, "
        "already"
    )


class AlreadyGraded(Conflict):
    code = "thesis.already_graded"
    title = N_("The thesis is graded: its text can no longer change")


class NotThesisAuthor(Forbidden):
    code = "thesis.not_author"
    title = N_(
        "Only the cadre, an org_admin of the cadre's unit or an admin hands in or edits a thesis"
    )


class NotThesisGrader(Forbidden):
    code = "thesis.not_grader"
    title = N_(
        "Only the session's organiser (an org_admin of the organising unit) or an admin grades a "
        "thesis; one handed in alone, an org_admin of the cadre's unit"
    )


class CollectionEmpty(NotFound):
    code = "thesis.collection_empty"
    title = N_("No excellent thesis matches: there is no collection to make")


class CollectionTooLarge(Conflict):
    code = "thesis.collection_too_large"
    title = N_("More excellent theses match than one collection holds (APP_THESIS__COLLECTION_MAX)")
